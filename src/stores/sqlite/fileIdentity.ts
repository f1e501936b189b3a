// The store file a SQLite store opened, by identity (device and inode): SQLite keeps writing to the
// file it opened even after it was deleted or replaced at its path, so a run would go on "durably"
// into a file nobody can open again, and a UI would go on showing runs that are gone. Every read
// and write transaction first checks that the path still names that file (one stat: microseconds,
// beside a commit's fsync).
import { statSync } from 'node:fs';
import { StoreOpenError } from '../errors.ts';

/**
 * Checks that `path` still names the file it named when this was made.
 *
 * @example
 * ```ts
 * const identity = new FileIdentity('/data/runs.db');
 * identity.check(); // throws a StoreOpenError once the file was deleted or replaced
 * ```
 */
export class FileIdentity {
  readonly #path: string;
  readonly #dev: number;
  readonly #ino: number;

  constructor(path: string) {
    const stat = statSync(path);
    this.#path = path;
    this.#dev = stat.dev;
    this.#ino = stat.ino;
  }

  /** Throws a `StoreOpenError` naming the file when its path no longer names the file opened. */
  check(): void {
    const stat = statSync(this.#path, { throwIfNoEntry: false });
    if (stat !== undefined && stat.dev === this.#dev && stat.ino === this.#ino) return;
    // (A StoreOpenError: the file this store opened cannot be used any more; no resume gets past it.)
    throw new StoreOpenError({
      path: this.#path,
      message:
        `The store file "${this.#path}" was ${stat === undefined ? 'deleted' : 'replaced by another file'} while this process had it open, ` +
        'so nothing more is read from or written to it here. Whatever was stored since is lost with the old file. ' +
        `Find out what ${stat === undefined ? 'deleted' : 'replaced'} it (a cleanup job, a deploy), restore it from a backup if you need its runs, and open the store again.`,
    });
  }
}

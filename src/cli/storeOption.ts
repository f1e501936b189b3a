import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { defaultSqlitePath, memoryStore, postgresStore, sqliteStore, StoreError, StoreOpenError, type Store } from '../stores/index.ts';
import { UsageError, type CommandOption } from './command.ts';
import { shellWord } from '../shellWord.ts';

/** The `--store` option every command that touches runs shares. */
export const storeOption = {
  type: 'string',
  description: `Where runs are kept: a SQLite file, a PostgreSQL URL (postgres://…, shared by workers), or 'memory' (nothing kept after the command)`,
  default: defaultSqlitePath,
  valueName: '<file|url|memory>',
} as const satisfies CommandOption;

/**
 * Whether `--store` names a PostgreSQL database (`postgres://…` or `postgresql://…`).
 *
 * @example
 * ```ts
 * isPostgresUrl('postgres://tm@db/app'); // true
 * ```
 */
export function isPostgresUrl(option: string): boolean {
  return /^postgres(ql)?:\/\//i.test(option);
}

/**
 * A `--store` value that starts like a URL: a scheme of two or more characters (a letter, then
 * letters, digits, `+`, `-` or `.`) followed by `:` — `postgres:/…`, `postgresql:…`, `mysql://…`,
 * `file:…` — or the typo `postgres//…`. Such a value is never taken as a file path (a typo in a
 * PostgreSQL URL must not create a SQLite file named after its password): it is a store only as a
 * `postgres://` or `postgresql://` URL. A one-letter scheme is one only when no `/` or `\` follows
 * its colon (`C:\runs\x.db` is a Windows path); a file whose name has a colon is given as `./name`.
 */
const urlLike = /^(?:[a-z][a-z0-9+.-]+:|[a-z]:(?![\\/])|postgres(?:ql)?\/\/)/i;

/** The form a PostgreSQL `--store` takes, for error messages. */
export const postgresUrlForm = 'postgres://user:password@host:5432/database';

/**
 * What `--store` names: `memory`, a PostgreSQL URL, or a SQLite file. A value that starts like a
 * URL (see `urlLike`) but is not a `postgres://`/`postgresql://` one, or that holds credentials
 * (`user:password@`, `password=`), is refused with a UsageError (exit 2) showing it masked —
 * never taken as a file path.
 *
 * @example
 * ```ts
 * storeKind('runs/x.db'); // 'sqlite'
 * storeKind('postgres:/tm:pw@db/app'); // throws UsageError: … --store 'postgres:/tm:***@db/app' …
 * ```
 */
export function storeKind(option: string): 'memory' | 'postgres' | 'sqlite' {
  if (option === 'memory') return 'memory';
  if (isPostgresUrl(option)) return 'postgres';
  const shown = shellWord(shownStore(option));
  const hint =
    `Pass a PostgreSQL URL (--store ${postgresUrlForm}), a SQLite file ` +
    `(--store runs/taskmachine.db; a file whose name has a colon as ./name), or --store memory.`;
  const scheme = urlLike.exec(option)?.[0];
  if (scheme !== undefined) {
    throw new UsageError(
      `--store ${shown} starts like a URL ('${scheme}') but is not a postgres:// or postgresql:// one, so it names no store (it is not taken as a file path).`,
      hint,
    );
  }
  // (`user:password@` only where no `/` comes before the colon: `runs/10:00@x.db` is a path.)
  if (/^[^/\\]*:[^/\\]*@/.test(option) || /password\s*=/i.test(option)) {
    throw new UsageError(`--store ${shown} holds what looks like a password (user:password@ or password=), so it is not taken as a file path.`, hint);
  }
  return 'sqlite';
}

/**
 * Opens the store named by `--store`: a PostgreSQL URL (connected, migrations applied; the URL is
 * never printed), `memory`, or a SQLite file (relative paths from the working directory). A value
 * {@link storeKind} refuses is never opened. Every command about stored runs (all but `run`) passes
 * `existing: true`: a file that is not there is refused with a `StoreOpenError` naming it (exit 2)
 * instead of being created empty — a typo in `--store` must not leave a new store behind.
 */
export async function openStore(option: string, cwd: string, { existing = false }: { readonly existing?: boolean } = {}): Promise<Store> {
  const kind = storeKind(option);
  if (kind === 'memory') return memoryStore();
  if (kind === 'postgres') {
    try {
      return await postgresStore({ connectionString: option });
    } catch (error) {
      // Its fixes name 'the connection string': here that is --store.
      if (error instanceof StoreError) error.message = error.message.replaceAll('the connection string', '--store');
      throw error;
    }
  }
  const path = resolve(cwd, option);
  if (existing && !existsSync(path)) {
    throw new StoreOpenError({
      path,
      message:
        `Cannot open the store file "${path}": there is no such file, so it holds no runs (nothing was created). ` +
        `Pass the store's file with --store <file> (the default is ${defaultSqlitePath} in the working directory).`,
    });
  }
  return sqliteStore({ path });
}

/**
 * The `--store` to repeat in printed commands: none for the default store; a PostgreSQL URL with
 * its password replaced by `***` (a connection string is never printed).
 */
export function storeHint(option: string): { store?: string } {
  if (option === defaultSqlitePath) return {};
  return { store: shownStore(option) };
}

/**
 * `--store` as it may be shown to a person: without a password — a PostgreSQL URL's, and whatever
 * looks like one in any other value ({@link maskCredentials}: a mistyped URL is shown masked too).
 *
 * @example
 * ```ts
 * shownStore('postgres://tm:secret@db/app'); // 'postgres://tm:***@db/app'
 * shownStore('mysql://tm:secret@db/app'); // 'mysql://tm:***@db/app'
 * shownStore('runs.db'); // 'runs.db'
 * ```
 */
export function shownStore(option: string): string {
  return isPostgresUrl(option) ? redactUrl(option) : maskCredentials(option);
}

/**
 * A PostgreSQL URL without its password (in the user info and in a `password=` parameter).
 *
 * @example
 * ```ts
 * redactUrl('postgres://tm:secret@db/app'); // 'postgres://tm:***@db/app'
 * ```
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return maskCredentials(parsed.href);
  } catch {
    return maskCredentials(url);
  }
}

/**
 * `text` with what looks like a password replaced by `***`: the `password` of `user:password@`
 * (after a leading `scheme:/`, `scheme://` or `scheme//`; up to the last `@`, so a password with
 * an `@` or `/` in it is masked whole) and the value of every `password=` (a URL parameter or a
 * libpq `key=value` string). It masks more than a password rather than less.
 *
 * @example
 * ```ts
 * maskCredentials('postgres:/tm:hunter2@db/app'); // 'postgres:/tm:***@db/app'
 * maskCredentials('host=db password=hunter2'); // 'host=db password=***'
 * maskCredentials('runs/x.db'); // 'runs/x.db'
 * ```
 */
export function maskCredentials(text: string): string {
  const out = text.replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^&\s]*)/gi, '$1***');
  const at = out.lastIndexOf('@');
  if (at < 0) return out;
  const start = /^[a-z][a-z0-9+.-]*(?::\/+|\/\/+)/i.exec(out)?.[0].length ?? 0;
  const colon = out.indexOf(':', start);
  if (colon < 0 || colon > at) return out;
  return `${out.slice(0, colon + 1)}***${out.slice(at)}`;
}

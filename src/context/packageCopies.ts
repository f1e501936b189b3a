import type { AsyncLocalStorage } from 'node:async_hooks';
import { fileURLToPath } from 'node:url';

/**
 * One loaded copy of taskmachine in this process: where it is, and the storage its `ctx()` reads.
 * Two copies load when a flow file's `taskmachine` import resolves to another installation than
 * the code running it (a global CLI and a project's local dependency, say).
 */
interface PackageCopy {
  readonly root: string;
  readonly storage: AsyncLocalStorage<unknown>;
}

const COPIES: unique symbol = Symbol.for('taskmachine.loadedCopies') as never;

/** The directory this copy of taskmachine was loaded from (its package root). */
export const thisCopyRoot: string = fileURLToPath(new URL('../..', import.meta.url));

function loadedCopies(): PackageCopy[] {
  const holder = globalThis as { [COPIES]?: PackageCopy[] };
  return (holder[COPIES] ??= []);
}

/** Registers this copy (once per copy; called by the module that owns `ctx()`'s storage). */
export function registerCopy(storage: AsyncLocalStorage<unknown>): void {
  loadedCopies().push({ root: thisCopyRoot, storage });
}

/** The package roots of the other copies of taskmachine loaded in this process. */
export function otherCopyRoots(): string[] {
  return loadedCopies()
    .filter((copy) => copy.root !== thisCopyRoot)
    .map((copy) => copy.root);
}

/**
 * For `ctx()` called where this copy has no context: the root of another copy that is running a
 * task attempt here, if any (its `ctx()` would have answered). Cheap when only one copy is loaded.
 */
export function copyRunningThisTask(ownStorage: AsyncLocalStorage<unknown>): string | undefined {
  const copies = loadedCopies();
  if (copies.length < 2) return undefined;
  // (The same copy evaluated twice — a test runner resetting its modules — is not another copy.)
  return copies.find((copy) => copy.root !== thisCopyRoot && copy.storage !== ownStorage && copy.storage.getStore() !== undefined)?.root;
}

/**
 * The message for code that mixes two copies: names both and says how to make them one.
 *
 * @example
 * ```ts
 * twoCopiesMessage('ctx() found no task context', '/usr/lib/node_modules/taskmachine/', '/app/node_modules/taskmachine/');
 * ```
 */
export function twoCopiesMessage(what: string, runningCopy: string, otherCopy: string): string {
  return (
    `${what}: two copies of taskmachine are loaded — the one running the flow (${runningCopy}) and the one ` +
    `the flow file imports (${otherCopy}). They do not share task context or control-flow errors. ` +
    'Make the flow file and the runner use one copy: run the project\'s own CLI (`npx taskmachine`), ' +
    'or make `taskmachine` resolve to the same installation (npm dedupe, or npm link).'
  );
}

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { defaultSqlitePath, memoryStore, sqliteStore, StoreOpenError, type Store } from '../stores/index.ts';
import type { CommandOption } from './command.ts';

/** The `--store` option every command that touches runs shares. */
export const storeOption = {
  type: 'string',
  description: `Where runs are kept: a SQLite file, or 'memory' (nothing kept after the command)`,
  default: defaultSqlitePath,
  valueName: '<file|memory>',
} as const satisfies CommandOption;

/**
 * Opens the store named by `--store` (relative paths from the working directory). Every command
 * about stored runs (all but `run`) passes `existing: true`: a file that is not there is refused
 * with a `StoreOpenError` naming it (exit 2) instead of being created empty — a typo in `--store`
 * must not leave a new store behind.
 */
export function openStore(option: string, cwd: string, { existing = false }: { readonly existing?: boolean } = {}): Store {
  if (option === 'memory') return memoryStore();
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

/** The `--store` to repeat in printed commands: none for the default store. */
export function storeHint(option: string): { store?: string } {
  return option === defaultSqlitePath ? {} : { store: option };
}

import { defaultSqlitePath, memoryStore, sqliteStore, type Store } from '../stores/index.ts';
import { resolve } from 'node:path';
import type { CommandOption } from './command.ts';

/** The `--store` option every command that touches runs shares. */
export const storeOption = {
  type: 'string',
  description: `Where runs are kept: a SQLite file, or 'memory' (nothing kept after the command)`,
  default: defaultSqlitePath,
  valueName: '<file|memory>',
} as const satisfies CommandOption;

/** Opens the store named by `--store` (relative paths from the working directory). */
export function openStore(option: string, cwd: string): Store {
  if (option === 'memory') return memoryStore();
  return sqliteStore({ path: resolve(cwd, option) });
}

/** The `--store` to repeat in printed commands: none for the default store. */
export function storeHint(option: string): { store?: string } {
  return option === defaultSqlitePath ? {} : { store: option };
}

// For test files that need PostgreSQL: the cluster the globalSetup started, fresh schemas, and
// stores that are closed after each test.
import { randomBytes } from 'node:crypto';
import { afterEach, inject } from 'vitest';
import { postgresStore, type PostgresStore, type PostgresStoreOptions } from '../../src/stores/index.ts';
import './postgresGlobalSetup.ts';

const provided = inject('postgres');

/** The private cluster, or `undefined` when the PostgreSQL tests are skipped. */
export const postgres = 'url' in provided ? provided : undefined;

/** Why the PostgreSQL tests are skipped (`undefined` when they run). */
export const skipReason = 'skip' in provided ? provided.skip : undefined;

/** A schema name no other test (in any worker) uses. */
export function freshSchema(prefix = 't'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

const opened: PostgresStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

/** A store on the cluster, on a fresh schema unless one is given; closed after the test. */
export async function openStore(options: Partial<PostgresStoreOptions> = {}): Promise<PostgresStore> {
  if (postgres === undefined) throw new Error('PostgreSQL tests are skipped');
  const store = await postgresStore({
    ...(options.pool === undefined ? { connectionString: postgres.url } : {}),
    schema: freshSchema(),
    retryDelayMs: 0,
    // Fail after connectionRetries, as the tests of broken connections count on (not after 30 s).
    reconnectForMs: 0,
    ...options,
  });
  opened.push(store);
  return store;
}

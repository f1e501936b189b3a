import { inspect } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { RunOwnedError } from '../../src/errors.ts';
import {
  LeaseLostError,
  memoryStore,
  postgresMigrations,
  postgresStore,
  StoreConflictError,
  StoreError,
  StoreSchemaError,
  StoreSerializationError,
  type PostgresStore,
} from '../../src/stores/index.ts';
import { freshSchema, openStore, postgres, skipReason } from '../helpers/postgresTest.ts';
import { jsonRowsLimit } from '../../src/stores/postgres/jsonRows.ts';
import { makeInstance, makeRun } from './fixtures/records.ts';
import { defineStoreContract, type RawRowWriter } from './storeContract.ts';

/** Changes a row of a PostgreSQL store's tables through its pool, past the store's checks. */
const rawPostgresRows: RawRowWriter = async (store, row, column, value) => {
  const { pool, schema } = store as PostgresStore;
  const where = row.table === 'runs' ? 'run_id = $2' : 'run_id = $2 AND key = $3';
  const params = row.table === 'runs' ? [value, row.runId] : [value, row.runId, row.key!];
  const { rowCount } = await pool.query(`UPDATE "${schema}".${row.table} SET ${column} = $1 WHERE ${where}`, params);
  if (rowCount !== 1) throw new Error(`no ${row.table} row ${JSON.stringify(row)}`);
};

const suffix = skipReason === undefined ? '' : ` (skipped: ${skipReason})`;

/** Runs SQL on the cluster directly (not through a store). */
async function admin<T extends pg.QueryResultRow = Record<string, unknown>>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: postgres!.url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the promise to reject');
}

describe.skipIf(postgres === undefined)(`postgresStore${suffix}`, () => {
  defineStoreContract('postgresStore', () => postgresStore({ connectionString: postgres!.url, schema: freshSchema(), retryDelayMs: 0 }), rawPostgresRows);
});

describe('postgresStore: options (checked before connecting)', () => {
  const url = 'postgresql://alice:s3cret-pw@127.0.0.1:1/app';

  it('rejects missing, conflicting, unknown and malformed options with the fix in the message', async () => {
    await expect(postgresStore({})).rejects.toThrow(/say where the database is: connectionString \(postgresql:\/\/user:password@host:port\/database\), pool/);
    await expect(postgresStore({ connectionString: url, conectionRetries: 1 } as never)).rejects.toThrow(
      /unknown option 'conectionRetries' \(the options are connectionString, pool, poolOptions, schema, connectionRetries, retryDelayMs, reconnectForMs\)/,
    );
    await expect(postgresStore({ connectionString: url, pool: new pg.Pool() })).rejects.toThrow(/pool cannot be combined with connectionString/);
    await expect(postgresStore({ pool: {} as never })).rejects.toThrow(/pool must be a node-postgres Pool/);
    await expect(postgresStore({ poolOptions: { connectionString: url } as never })).rejects.toThrow(/without connectionString/);
    for (const schema of ['Taskmachine', '1st', 'pg_store', 'has-dash', 'a'.repeat(64), '', 'x"; DROP TABLE runs; --']) {
      const error = await rejection(postgresStore({ connectionString: url, schema }));
      expect(error).toBeInstanceOf(StoreError);
      expect(error.message).toMatch(/schema must be a lowercase SQL identifier .* got .*Example: 'taskmachine'/);
    }
    await expect(postgresStore({ connectionString: url, connectionRetries: -1 })).rejects.toThrow(/connectionRetries must be a non-negative integer/);
    await expect(postgresStore({ connectionString: url, retryDelayMs: Number.NaN })).rejects.toThrow(/retryDelayMs must be a non-negative number/);
    await expect(postgresStore({ connectionString: url, reconnectForMs: -1 })).rejects.toThrow(/reconnectForMs must be a non-negative number of ms, got -1/);
  });

  it('never shows a connection string it refuses (it may hold a password)', async () => {
    for (const connectionString of ['mysql://alice:s3cret-pw@db/app', 'alice:s3cret-pw@db', 'postgresql://alice:s3cret-pw@[::1/app']) {
      const error = await rejection(postgresStore({ connectionString }));
      expect(error).toBeInstanceOf(StoreError);
      expect(error.message).toMatch(/connectionString (must be|is not) a( valid)? postgresql:\/\/ URL .*not shown, as it may contain a password/);
      expect(inspect(error, { depth: Infinity, showHidden: true })).not.toMatch(/s3cret/);
    }
  });
});

describe.skipIf(postgres === undefined)(`postgresStore: PostgreSQL specifics${suffix}`, () => {
  describe('migrations', () => {
    it('creates the schema and its tables, records the migration, and names the server without the password', async () => {
      const store = await openStore();
      expect(store.schema).toMatch(/^t_[0-9a-f]{12}$/);
      expect(store.server).toBe(`127.0.0.1:${postgres!.port}/${postgres!.database}`);
      expect(await store.schemaVersion()).toBe(postgresMigrations.at(-1)!.version);
      const rows = await admin(`SELECT version, description FROM "${store.schema}".schema_version ORDER BY version`);
      expect(rows).toEqual(postgresMigrations.map((m) => ({ version: m.version, description: m.description })));
      const tables = await admin<{ tablename: string }>('SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename', [store.schema]);
      expect(tables.map((t) => t.tablename)).toEqual([
        'attempt_calls',
        'attempt_launches',
        'checkpoints',
        'commit_markers',
        'control_requests',
        'leases',
        'results',
        'runs',
        'schema_version',
        'task_instances',
        'task_logs',
        'transitions',
      ]);
    });

    it('reopening an up-to-date schema changes nothing and reads back what was committed', async () => {
      const first = await openStore();
      await first.commit({ runId: 'r1', run: makeRun('r1'), instances: [{ record: makeInstance('a') }] });
      const second = await openStore({ schema: first.schema });
      expect((await second.loadRun('r1'))?.instances.map((i) => [i.key, i.version])).toEqual([['a', 1]]);
      expect(await admin(`SELECT count(*)::int AS n FROM "${first.schema}".schema_version`)).toEqual([{ n: postgresMigrations.length }]);
    });

    it('migrates a schema-1 store in place: its runs keep their data, instances get 0 interruptions, no run has a lease', async () => {
      const schema = freshSchema();
      // A store as taskmachine wrote it before schema 2: migration 1 only.
      await admin(
        `CREATE SCHEMA "${schema}"; ` +
          `CREATE TABLE "${schema}".schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), description text NOT NULL); ` +
          postgresMigrations[0]!.sql(`"${schema}"`),
      );
      await admin(`INSERT INTO "${schema}".schema_version (version, description) VALUES (1, $1)`, [postgresMigrations[0]!.description]);
      await admin(`INSERT INTO "${schema}".runs (run_id, flow_id, input_fingerprint, state, machine_version, created_at, updated_at) VALUES ('old', 'etl', 'fp', 'running', '1', 1, 1)`);
      await admin(
        `INSERT INTO "${schema}".task_instances (run_id, key, task_id, state, attempt, max_attempts, retries, defer_timed_out, version, machine_version, created_at, updated_at, parked, waiting_for_event) ` +
          `VALUES ('old', 'a', 'a', 'running', 1, 1, 0, false, 3, '2', 1, 1, false, true)`,
      );
      const store = await openStore({ schema });
      expect(await store.schemaVersion()).toBe(postgresMigrations.at(-1)!.version);
      expect(await admin(`SELECT version FROM "${schema}".schema_version ORDER BY version`)).toEqual(postgresMigrations.map((m) => ({ version: m.version })));
      expect((await store.loadRun('old'))!.instances[0]).toMatchObject({ key: 'a', state: 'running', version: 3, awaitsEvent: true, interruptions: 0, maxInterruptions: 3 });
      expect(await store.getLease('old')).toBeUndefined();
      expect((await store.listRuns())[0]).toMatchObject({ runId: 'old', lease: undefined });
      // and the migrated store works like a new one
      const { lease } = await store.acquireLease({ runId: 'old', owner: { ownerId: 'o', host: 'h', pid: 1 }, ttlMs: 1_000, now: 1 });
      const request = await store.requestControl({ runId: 'old', action: 'cancel', requestedAt: 2 });
      await store.commit({
        runId: 'old',
        leaseToken: lease.token,
        instances: [{ record: makeInstance('a', { interruptions: 1 }), expectedVersion: 3 }],
        controls: [{ id: request.id, status: 'applied', message: 'cancelled', at: 3 }],
      });
      expect((await store.loadRun('old'))!.instances[0]).toMatchObject({ version: 4, interruptions: 1 });
      // Schema 4: a run stored before has no shape and no flow hash; its task log starts empty and works.
      expect(await store.getRunShape('old')).toBeUndefined();
      expect((await store.getRun('old'))?.flowHash).toBeUndefined();
      await store.commit({ runId: 'old', logs: [{ key: 'a', taskId: 'a', attempt: 1, at: 4, line: 'after the upgrade' }] });
      expect((await store.readTaskLogs('old')).map((l) => [l.seq, l.line])).toEqual([[1, 'after the upgrade']]);
    });

    it('several stores opening one new schema at once migrate it exactly once', async () => {
      const schema = freshSchema();
      const stores = await Promise.all(Array.from({ length: 6 }, () => openStore({ schema })));
      for (const store of stores) expect(await store.schemaVersion()).toBe(postgresMigrations.at(-1)!.version);
      expect(await admin(`SELECT version FROM "${schema}".schema_version`)).toEqual(postgresMigrations.map((m) => ({ version: m.version })));
    });

    it('waits for the migration lock another process holds', async () => {
      const schema = freshSchema();
      const holder = new pg.Client({ connectionString: postgres!.url });
      await holder.connect();
      try {
        await holder.query('BEGIN');
        await holder.query("SELECT pg_advisory_xact_lock(hashtext('taskmachine.migrate'), hashtext($1))", [schema]);
        const opening = openStore({ schema, poolOptions: { application_name: `lock_${schema}` } });
        // the opener is blocked on the advisory lock (not failed, not migrated)…
        await vi.waitFor(
          async () => {
            const waiting = await admin(
              "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
              [`lock_${schema}`],
            );
            expect(waiting).toHaveLength(1);
          },
          { timeout: 20_000, interval: 20 },
        );
        expect(await admin('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).toEqual([]);
        // …and migrates once the lock is released.
        await holder.query('COMMIT');
        expect(await (await opening).schemaVersion()).toBe(postgresMigrations.at(-1)!.version);
      } finally {
        await holder.end();
      }
    });

    it('refuses a schema written by a newer taskmachine with StoreSchemaError, changing nothing', async () => {
      const store = await openStore();
      await store.commit({ runId: 'r1', run: makeRun('r1') });
      await admin(`INSERT INTO "${store.schema}".schema_version (version, description) VALUES (99, 'from the future')`);
      const error = await rejection(openStore({ schema: store.schema }));
      expect(error).toBeInstanceOf(StoreSchemaError);
      expect(error).toMatchObject({ foundVersion: 99, supportedVersion: postgresMigrations.at(-1)!.version });
      expect(error.message).toMatch(
        new RegExp(
          `at 127\\.0\\.0\\.1:${postgres!.port}/postgres schema "${store.schema}" has schema version 99, but this taskmachine knows versions up to ` +
            `${postgresMigrations.at(-1)!.version}: .*Upgrade taskmachine.*Nothing was changed\\.$`,
        ),
      );
      expect(await admin(`SELECT version FROM "${store.schema}".schema_version ORDER BY version`)).toEqual([
        ...postgresMigrations.map((m) => ({ version: m.version })),
        { version: 99 },
      ]);
      expect((await store.getRun('r1'))?.runId).toBe('r1');
    });

    it("refuses a schema holding another program's tables, and a store missing a table", async () => {
      const foreign = freshSchema();
      await admin(`CREATE SCHEMA "${foreign}"; CREATE TABLE "${foreign}".users (id int); CREATE TABLE "${foreign}".runs (id int)`);
      const error = await rejection(openStore({ schema: foreign }));
      expect(error).toBeInstanceOf(StoreSchemaError);
      expect(error.message).toMatch(/is not a taskmachine store \(it has the tables runs, users and no schema_version\)\. Choose another schema/);
      expect((await admin<{ tablename: string }>('SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1', [foreign])).map((r) => r.tablename)).toEqual([
        'runs',
        'users',
      ]);

      const damaged = await openStore();
      await admin(`DROP TABLE "${damaged.schema}".checkpoints`);
      await expect(openStore({ schema: damaged.schema })).rejects.toThrow(/is damaged: the tables checkpoints are missing/);
      const noLeases = await openStore();
      await admin(`DROP TABLE "${noLeases.schema}".leases`);
      await expect(openStore({ schema: noLeases.schema })).rejects.toThrow(/is damaged: the tables leases are missing/);
    });
  });

  describe('group commit', () => {
    it('commits a turn of 3,000 instance writes, log entries and results in five statements, as it does a turn of one', async () => {
      const pool = new pg.Pool({ connectionString: postgres!.url });
      pool.on('error', () => {});
      const counted = new WeakSet<object>();
      let statements = 0;
      pool.on('acquire', (client) => {
        if (counted.has(client)) return;
        counted.add(client);
        const query = client.query.bind(client) as (...args: unknown[]) => unknown;
        (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args) => {
          statements += 1;
          return query(...args);
        };
      });
      try {
        const store = await openStore({ pool });
        const keys = Array.from({ length: 3_000 }, (_, i) => `load[${i}]`);
        const statementsFor = async (batch: Parameters<PostgresStore['commit']>[0]) => {
          statements = 0;
          await store.commit(batch);
          return statements;
        };
        expect(
          await statementsFor({
            runId: 'big',
            run: makeRun('big'),
            instances: keys.map((key, i) => ({ record: makeInstance(key, { mapIndex: i }) })),
            transitions: keys.map((key) => ({ key, from: 'none', to: 'scheduled', event: 'SCHEDULE', at: 1 }) as const),
          }),
        ).toBe(5); // BEGIN, lock+marker, versions, one write, COMMIT
        expect(
          await statementsFor({
            runId: 'big',
            instances: keys.map((key, i) => ({ record: makeInstance(key, { mapIndex: i, state: 'success' }), expectedVersion: 1 })),
            transitions: keys.map((key) => ({ key, from: 'running', to: 'success', event: 'SUCCEED', at: 2 }) as const),
            results: keys.map((key, i) => ({ key, attempt: 1, value: { i }, at: 2 })),
          }),
        ).toBe(5);
        expect(
          await statementsFor({ runId: 'big', instances: [{ record: makeInstance('load[0]', { state: 'none' }), expectedVersion: 2 }] }),
        ).toBe(5);
        // The lease check rides on the statement that locks the run; settlements on the one write.
        const { lease } = await store.acquireLease({ runId: 'big', owner: { ownerId: 'o', host: 'h', pid: 1 }, ttlMs: 60_000, now: 3 });
        const requests = [
          await store.requestControl({ runId: 'big', action: 'set-state', taskKey: 'load[1]', state: 'failed', requestedAt: 3 }),
          await store.requestControl({ runId: 'big', action: 'clear', taskKey: 'load[2]', requestedAt: 3 }),
        ];
        expect(
          await statementsFor({
            runId: 'big',
            leaseToken: lease.token,
            instances: [{ record: makeInstance('load[1]', { mapIndex: 1, state: 'failed' }), expectedVersion: 2 }],
            transitions: [{ key: 'load[1]', from: 'success', to: 'failed', event: 'SET_STATE', at: 4 }],
            controls: [
              { id: requests[0]!.id, status: 'applied', message: 'load[1]: success → failed', at: 4 },
              { id: requests[1]!.id, status: 'refused', message: 'not now', at: 4 },
            ],
          }),
        ).toBe(5);
        expect(await store.pendingControls('big')).toEqual([]);
        expect(
          await statementsFor({ runId: 'big', leaseToken: lease.token, transitions: [{ key: 'load[1]', from: 'failed', to: 'failed', event: 'SET_STATE', at: 5 }] }),
        ).toBe(4); // no versions to read
        await store.commit({ runId: 'big', transitions: [{ key: 'load[1]', from: 'failed', to: 'success', event: 'SET_STATE', at: 6 }] });
        statements = 0;
        await store.saveCheckpoint({ runId: 'big', key: 'load[1]', value: 1, savedAt: 6, leaseToken: lease.token });
        expect(statements).toBe(1);
        const loaded = (await store.loadRun('big'))!;
        expect(loaded.instances).toHaveLength(3_000);
        expect(loaded.instances.slice(0, 3).map((i) => [i.key, i.version, i.state])).toEqual([
          ['load[0]', 3, 'none'],
          ['load[1]', 3, 'failed'],
          ['load[2]', 2, 'success'],
        ]);
        expect(loaded.results.at(-1)).toEqual({ runId: 'big', key: 'load[2999]', attempt: 1, value: { i: 2999 }, at: 2 });
        expect((await store.readTransitionLog('big')).map((t) => t.seq)).toEqual(Array.from({ length: 6_003 }, (_, i) => i + 1));
      } finally {
        await pool.end();
      }
    });
  });

  describe('several stores (processes) on one schema', () => {
    it('compare-and-set holds across stores: of two concurrent writes from the same version exactly one wins', async () => {
      const first = await openStore();
      const second = await openStore({ schema: first.schema });
      await first.commit({ runId: 'r1', run: makeRun('r1'), instances: [{ record: makeInstance('a') }] });
      for (let version = 1; version <= 10; version++) {
        const outcomes = await Promise.allSettled(
          [first, second].map((store, i) =>
            store.commit({
              runId: 'r1',
              instances: [{ record: makeInstance('a', { attempt: version + 1, maxAttempts: 100, retries: i }), expectedVersion: version }],
              transitions: [{ key: 'a', from: 'scheduled', to: 'scheduled', event: 'SCHEDULE', at: version }],
            }),
          ),
        );
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        const [rejected] = outcomes.filter((o) => o.status === 'rejected');
        expect((rejected as PromiseRejectedResult).reason).toBeInstanceOf(StoreConflictError);
        expect((rejected as PromiseRejectedResult).reason).toMatchObject({ key: 'a', expectedVersion: version, actualVersion: version + 1 });
      }
      const log = await second.readTransitionLog('r1');
      expect(log.map((t) => t.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1)); // the losers wrote nothing
      expect((await first.loadRun('r1'))?.instances[0]).toMatchObject({ version: 11, attempt: 11 });
    });

    it('concurrent appends to one run from several stores get seq 1…n without gaps or duplicates', async () => {
      const first = await openStore();
      await first.commit({ runId: 'r1', run: makeRun('r1') });
      const stores = [first, ...(await Promise.all([1, 2, 3].map(() => openStore({ schema: first.schema }))))];
      const results = await Promise.all(
        stores.flatMap((store, s) =>
          Array.from({ length: 10 }, (_, b) =>
            store.commit({
              runId: 'r1',
              transitions: [0, 1, 2].map((i) => ({ key: `s${s}b${b}i${i}`, from: 'none', to: 'scheduled', event: 'SCHEDULE', at: i }) as const),
            }),
          ),
        ),
      );
      const log = await first.readTransitionLog('r1');
      expect(log.map((t) => t.seq)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
      expect(results.map((r) => r.lastSeq).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => (i + 1) * 3));
      // each batch's three entries are contiguous, in batch order
      for (let i = 0; i < 120; i += 3) expect(log.slice(i, i + 3).map((t) => t.key.slice(-2))).toEqual(['i0', 'i1', 'i2']);
    });

    it('of several stores acquiring a new run\'s lease at once exactly one gets it (token 1); of several taking over an expired one, one (the next token)', async () => {
      const first = await openStore();
      const stores = [first, ...(await Promise.all([1, 2, 3, 4].map(() => openStore({ schema: first.schema }))))];
      // New owners every round (an owner acquiring its own lease again keeps its token).
      const race = (now: number) =>
        Promise.allSettled(stores.map((store, i) => store.acquireLease({ runId: 'r1', owner: { ownerId: `owner-${now}-${i}`, host: 'h', pid: i }, ttlMs: 1_000, now })));
      for (const [now, token] of [
        [1, 1],
        [10_000, 2],
        [20_000, 3],
      ] as const) {
        const outcomes = await race(now);
        const granted = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
        expect(granted).toHaveLength(1);
        expect(granted[0]!.lease.token).toBe(token);
        for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(RunOwnedError);
        expect(await first.getLease('r1')).toEqual(granted[0]!.lease);
      }
    });

    it('a commit carrying the old token waits for a takeover in progress and is then refused; nothing of it is written', async () => {
      const store = await openStore();
      await store.commit({ runId: 'r1', run: makeRun('r1'), instances: [{ record: makeInstance('a') }] });
      const { lease } = await store.acquireLease({ runId: 'r1', owner: { ownerId: 'a', host: 'h', pid: 1 }, ttlMs: 1_000, now: 1 });
      // Another process taking the expired lease over, its transaction not committed yet.
      const other = new pg.Client({ connectionString: postgres!.url });
      await other.connect();
      try {
        await other.query('BEGIN');
        await other.query(`UPDATE "${store.schema}".leases SET token = token + 1, owner_id = 'b', host = 'h2', pid = 2 WHERE run_id = 'r1'`);
        let settled = false;
        const commit = store
          .commit({ runId: 'r1', leaseToken: lease.token, instances: [{ record: makeInstance('a', { state: 'queued' }), expectedVersion: 1 }] })
          .finally(() => (settled = true));
        await vi.waitFor(
          async () => {
            const waiting = await admin("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%leases%FOR SHARE%'");
            expect(waiting.length).toBeGreaterThan(0);
          },
          { timeout: 20_000, interval: 20 },
        );
        expect(settled).toBe(false);
        await other.query('COMMIT');
        const error = await rejection(commit);
        expect(error).toBeInstanceOf(LeaseLostError);
        expect(error).toMatchObject({ token: 1, currentToken: 2 });
        expect((await store.loadRun('r1'))!.instances[0]).toMatchObject({ state: 'scheduled', version: 1 });
      } finally {
        await other.end();
      }
    });

    it('control request ids increase across stores on one schema', async () => {
      const first = await openStore();
      const second = await openStore({ schema: first.schema });
      await first.commit({ runId: 'r1', run: makeRun('r1') });
      const ids: number[] = [];
      for (let i = 0; i < 6; i++) ids.push((await [first, second][i % 2]!.requestControl({ runId: 'r1', action: 'cancel', requestedAt: i })).id);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(new Set(ids).size).toBe(6);
      expect((await second.pendingControls('r1')).map((r) => r.id)).toEqual(ids);
    });

    it('stores on different schemas of one database are independent', async () => {
      const one = await openStore();
      const two = await openStore();
      await one.commit({ runId: 'r1', run: makeRun('r1', { flowId: 'one' }) });
      await two.commit({ runId: 'r1', run: makeRun('r1', { flowId: 'two' }) });
      expect((await one.getRun('r1'))?.flowId).toBe('one');
      expect((await two.getRun('r1'))?.flowId).toBe('two');
      await one.deleteRun('r1');
      expect((await two.getRun('r1'))?.flowId).toBe('two');
    });
  });

  describe('values PostgreSQL treats differently', () => {
    it('keeps fractional-ms times, integers beyond 32 bits and NUL characters inside values exactly', async () => {
      const store = await openStore();
      const record = makeInstance('a', { createdAt: 1_763_778_000_123.456, maxAttempts: 2 ** 40, attempt: 2 ** 33, timer: { deadline: 2 ** 52 + 0.5, action: 'retry' } });
      await store.commit({
        runId: 'r1',
        run: makeRun('r1', { createdAt: 0.1 + 0.2, input: { text: 'a\u0000b', big: 2n ** 64n } }),
        instances: [{ record }],
        transitions: [{ key: 'a', from: 'none', to: 'scheduled', event: 'SCHEDULE', at: 1e-3 }],
      });
      const loaded = (await store.loadRun('r1'))!;
      expect(loaded.run.createdAt).toBe(0.1 + 0.2);
      expect(loaded.run.input).toEqual({ text: 'a\u0000b', big: 2n ** 64n });
      expect(loaded.instances[0]).toEqual({ ...record, runId: 'r1', version: 1 });
      expect((await store.readTransitionLog('r1'))[0]?.at).toBe(1e-3);
      expect((await store.listRuns())[0]?.createdAt).toBe(0.1 + 0.2);
    });

    it('a batch too large for one jsonb parameter (PostgreSQL: 256 MB) is written in parts, in order, in its one transaction', async () => {
      const store = await openStore();
      const saved = jsonRowsLimit.chars;
      // (The limit lowered to 2,000 characters: 60 instances of ~300 and 60 transitions take parts.)
      jsonRowsLimit.chars = 2_000;
      try {
        const keys = Array.from({ length: 60 }, (_, i) => `part[${i}]`);
        await store.commit({
          runId: 'big',
          run: makeRun('big'),
          instances: keys.map((key, i) => ({ record: makeInstance(key, { mapIndex: i, resumeData: { pad: 'x'.repeat(100 + i) } }) })),
          transitions: keys.map((key, i) => ({ key, from: 'none', to: 'scheduled', event: 'SCHEDULE', at: i })),
        });
        const loaded = (await store.loadRun('big'))!;
        expect(loaded.instances.map((instance) => instance.key)).toEqual(keys);
        expect(loaded.instances.map((instance) => (instance.resumeData as { pad: string }).pad.length)).toEqual(keys.map((_, i) => 100 + i));
        const log = await store.readTransitionLog('big');
        expect(log.map((t) => [t.seq, t.key])).toEqual(keys.map((key, i) => [i + 1, key]));
        // A batch that fails after its parts were written leaves none of them behind.
        const queued = keys.map((key) => ({ record: makeInstance(key, { state: 'queued' }), expectedVersion: 1 }));
        await expect(store.commit({ runId: 'big', instances: queued }, async () => Promise.reject(new Error('after the write')))).rejects.toThrow(/after the write/);
        expect((await store.loadRun('big'))!.instances.map((instance) => [instance.state, instance.version])).toEqual(keys.map(() => ['scheduled', 1]));
      } finally {
        jsonRowsLimit.chars = saved;
      }
    });

    it('stores a lone UTF-16 surrogate in a key as U+FFFD (as node-postgres encodes any text) instead of failing the commit; inside values it is kept exactly', async () => {
      const store = await openStore();
      await store.commit({
        runId: 'r1',
        run: makeRun('r1'),
        instances: [{ record: makeInstance('lone\ud800', { resumeData: { half: 'x\udc00y' } }) }, { record: makeInstance('pair\ud83d\ude00') }],
        transitions: [{ key: 'lone\ud800', from: 'none', to: 'scheduled', event: 'SCHEDULE', at: 1 }],
      });
      const loaded = (await store.loadRun('r1'))!;
      expect(loaded.instances.map((instance) => instance.key)).toEqual(['lone\ufffd', 'pair\ud83d\ude00']);
      expect(loaded.instances[0]!.resumeData).toEqual({ half: 'x\udc00y' });
      expect((await store.readTransitionLog('r1'))[0]?.key).toBe('lone\ufffd');
    });

    it('refuses NUL in run ids, keys and names (PostgreSQL text cannot hold it), naming the field; reads find nothing', async () => {
      const store = await openStore();
      await store.commit({ runId: 'r1', run: makeRun('r1') });
      await expect(store.commit({ runId: 'r\u00001', run: makeRun('r\u00001') })).rejects.toThrow(/batch\.runId .* contains the character U\+0000 \(NUL\).*Nothing was written/);
      await expect(store.commit({ runId: 'r1', instances: [{ record: makeInstance('a\u0000') }] })).rejects.toThrow(/task instance "a\\u0000" of run 'r1': key contains/);
      await expect(store.saveCheckpoint({ runId: 'r1', key: 'k\u0000', value: 1, savedAt: 1 })).rejects.toThrow(/U\+0000/);
      expect(await store.getRun('r\u00001')).toBeUndefined();
      expect(await store.loadRun('r\u00001')).toBeUndefined();
      expect(await store.readTransitionLog('r\u00001')).toEqual([]);
      expect(await store.loadCheckpoint('r1', 'k\u0000')).toBeUndefined();
      expect(await store.listRuns({ flowId: 'e\u0000tl' })).toEqual([]);
      expect(await store.deleteRun('r\u00001')).toBe(false);
      expect((await store.loadRun('r1'))?.instances).toEqual([]);
    });

    it('answers odd but valid limits and afterSeq values as memoryStore does', async () => {
      const stores = [await openStore(), memoryStore()];
      for (const store of stores) {
        for (const [i, runId] of ['a', 'b', 'c'].entries()) await store.commit({ runId, run: makeRun(runId, { createdAt: i }) });
        await store.commit({ runId: 'a', transitions: [1, 2, 3].map((at) => ({ key: 'x', from: 'none', to: 'scheduled', event: 'SCHEDULE', at }) as const) });
      }
      const answers = async (store: (typeof stores)[number]) => ({
        limits: await Promise.all([2.5, 0.5, 1e20, Number.MAX_SAFE_INTEGER, Infinity].map(async (limit) => (await store.listRuns({ limit })).map((r) => r.runId))),
        tails: await Promise.all([1.5, -5, 0, 3, 2.999, 1e20, Infinity, -Infinity, Number.NaN].map(async (afterSeq) => (await store.readTransitionLog('a', { afterSeq })).map((t) => t.seq))),
      });
      const [fromPostgres, fromMemory] = await Promise.all(stores.map(answers));
      expect(fromPostgres).toEqual(fromMemory);
      expect(fromPostgres!.tails[0]).toEqual([2, 3]);
    });

    it('refuses stored payloads crafted with __proto__ and leaves Object.prototype clean', async () => {
      const store = await openStore();
      await store.commit({ runId: 'r1', run: makeRun('r1'), instances: [{ record: makeInstance('a') }], results: [{ key: 'a', attempt: 1, value: 1, at: 1 }] });
      await store.saveCheckpoint({ runId: 'r1', key: 'a', value: 'cp', savedAt: 1 });
      await admin(`UPDATE "${store.schema}".results SET value = '{"json":{"rows":3,"__proto__":{"polluted":true}}}'`);
      await admin(`UPDATE "${store.schema}".checkpoints SET value = '{"json":{"x":1},"meta":{"values":{"__proto__.polluted":["undefined"]},"v":1}}'`);
      await admin(`UPDATE "${store.schema}".runs SET labels = '{"json":{"flowFile":"x","__proto__":{"polluted":true}}}'`);
      await expect(store.loadRun('r1')).rejects.toBeInstanceOf(StoreSerializationError);
      await expect(store.loadCheckpoint('r1', 'a')).rejects.toThrow(/key '__proto__'/);
      await expect(store.listRuns()).rejects.toThrow(/key '__proto__'/);
      await expect(store.getRun('r1')).rejects.toThrow(/key '__proto__'/);
      expect(Object.prototype).not.toHaveProperty('polluted');
    });
  });

  describe('pools and credentials', () => {
    it('borrows a given pool and leaves it open on close', async () => {
      const pool = new pg.Pool({ connectionString: postgres!.url });
      pool.on('error', () => {});
      try {
        const store = await postgresStore({ pool, schema: freshSchema() });
        expect(store.pool).toBe(pool);
        expect(store.server).toBe(`127.0.0.1:${postgres!.port}/postgres`);
        await store.commit({ runId: 'r1', run: makeRun('r1') });
        await store.close();
        expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
        await expect(store.getRun('r1')).rejects.toThrow(/is closed/);
      } finally {
        await pool.end();
      }
    });

    it('logging the store or its pool never prints the connection string', async () => {
      const store = await openStore();
      await store.commit({ runId: 'r1', run: makeRun('r1') });
      expect(inspect(store)).toBe(`PostgresStore { server: '127.0.0.1:${postgres!.port}/postgres', schema: '${store.schema}' }`);
      for (const shown of [inspect(store.pool, { depth: 10 }), JSON.stringify(store.pool.options), inspect({ store }, { depth: 10 })]) {
        expect(shown).not.toContain(postgres!.password);
      }
      expect((await store.getRun('r1'))?.runId).toBe('r1'); // the pool still connects with it
    });

    it('a wrong password: a StoreError naming host:port/database and the fix, never the password', async () => {
      const url = new URL(postgres!.url);
      url.password = 'wrong-pw-d41d8cd98f';
      const error = await rejection(postgresStore({ connectionString: url.href, schema: freshSchema() }));
      expect(error).toBeInstanceOf(StoreError);
      expect(error.message).toMatch(
        new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${postgres!.port}/postgres refused to open the store .*password authentication failed.*28P01.*Check the user and password`),
      );
      const everything = inspect(error, { depth: Infinity, showHidden: true });
      expect(everything).not.toContain('wrong-pw-d41d8cd98f');
      expect(everything).not.toContain(postgres!.password);
    });

    it('SSL asked of a server without it: a StoreError naming host:port/database and the fix, tried once', async () => {
      const url = new URL(postgres!.url);
      // (node-postgres verifies the certificate for sslmode=require too: the same path, without its warning.)
      url.searchParams.set('sslmode', 'verify-full');
      const error = await rejection(postgresStore({ connectionString: url.href, schema: freshSchema(), retryDelayMs: 0, reconnectForMs: 3_600_000 }));
      expect(error).toBeInstanceOf(StoreError);
      expect(error.message).toBe(
        `Could not open the store (schema "${error.message.match(/schema "([^"]+)"/)![1]}"): PostgreSQL at 127.0.0.1:${postgres!.port}/postgres does not support SSL connections, ` +
          'and the connection asks for SSL (sslmode or ssl in the connection string, or PGSSLMODE). Nothing was written. ' +
          'Remove the sslmode (or ssl) parameter from the connection string, or enable SSL on the server (ssl = on in postgresql.conf).',
      );
      expect(inspect(error, { depth: Infinity, showHidden: true })).not.toContain(postgres!.password);
    });

    it('no server at the address: StoreConnectionError after the retries, naming only host:port/database', async () => {
      const { startPgProxy } = await import('../helpers/pgProxy.ts');
      const proxy = await startPgProxy({ host: '127.0.0.1', port: postgres!.port });
      proxy.refuse(true);
      try {
        const url = new URL(postgres!.url);
        url.port = String(proxy.port);
        const error = await rejection(postgresStore({ connectionString: url.href, schema: freshSchema(), connectionRetries: 2, retryDelayMs: 0, reconnectForMs: 0 }));
        expect(error).toMatchObject({ name: 'StoreConnectionError', outcome: 'not-written', server: `127.0.0.1:${proxy.port}/postgres` });
        expect(error.message).toMatch(new RegExp(`Could not open the store .*PostgreSQL at 127\\.0\\.0\\.1:${proxy.port}/postgres is unreachable .* after 3 attempts\\. Nothing was written\\.`));
        expect(proxy.accepted).toBe(3);
        expect(inspect(error, { depth: Infinity, showHidden: true })).not.toContain(postgres!.password);
      } finally {
        await proxy.close();
      }
    });
  });
});

afterAll(() => {
  expect(Object.prototype).not.toHaveProperty('polluted');
});

// What a PostgreSQL store does when its connection breaks. A protocol-aware proxy between the store
// and the private cluster breaks connections at exact points (before the server sees COMMIT, after
// the server committed but before the store hears back, mid-transaction) or refuses them all, so
// every scenario is deterministic.
import { inspect } from 'node:util';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreConnectionError, type PostgresStore } from '../../src/stores/index.ts';
import { startPgProxy, type PgProxy } from '../helpers/pgProxy.ts';
import { freshSchema, openStore, postgres, skipReason } from '../helpers/postgresTest.ts';
import { makeInstance, makeRun } from './fixtures/records.ts';

async function admin(text: string, values: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: postgres!.url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
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

const step = (key: string, at: number) => ({ key, from: 'scheduled', to: 'queued', event: 'QUEUE', at }) as const;

describe.skipIf(postgres === undefined)(`postgresStore: connection loss${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`, () => {
  let proxy: PgProxy;
  let store: PostgresStore;
  let app: string;

  beforeEach(async () => {
    proxy = await startPgProxy({ host: '127.0.0.1', port: postgres!.port });
    const url = new URL(postgres!.url);
    url.port = String(proxy.port);
    app = freshSchema('app');
    store = await openStore({ connectionString: url.href, poolOptions: { application_name: app }, connectionRetries: 2 });
    // run r1: instances a and b at version 1, two log entries
    await store.commit({
      runId: 'r1',
      run: makeRun('r1'),
      instances: [{ record: makeInstance('a') }, { record: makeInstance('b') }],
      transitions: [
        { key: 'a', from: 'none', to: 'scheduled', event: 'SCHEDULE', at: 1 },
        { key: 'b', from: 'none', to: 'scheduled', event: 'SCHEDULE', at: 1 },
      ],
    });
  });
  afterEach(async () => {
    await proxy.close();
  });

  const logLength = async (): Promise<number> => (await store.readTransitionLog('r1')).length;

  it('idle connections the server killed are replaced by the pool; the next commit just works', async () => {
    const before = await admin('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [app]);
    expect(before.length).toBeGreaterThan(0);
    const killed = await admin('SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1', [app]);
    expect(killed.every((row) => row['killed'] === true)).toBe(true);
    const { versions } = await store.commit({ runId: 'r1', instances: [{ record: makeInstance('a', { state: 'queued' }), expectedVersion: 1 }] });
    expect(versions.get('a')).toBe(2);
    const after = await admin('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [app]);
    expect(after.map((r) => r['pid'])).not.toContain(before[0]!['pid']);
  });

  it('every connection cut between turns (a server restart): commits and reads go on, on fresh connections', async () => {
    proxy.cutAll();
    expect((await store.loadRun('r1'))?.instances).toHaveLength(2);
    proxy.cutAll();
    await store.commit({ runId: 'r1', transitions: [step('a', 2)] });
    expect(await logLength()).toBe(3);
  });

  it('connection lost mid-transaction (after BEGIN): the commit is retried on a new connection and applied once', async () => {
    const accepted = proxy.accepted;
    const cut = proxy.cutOn(/^BEGIN/, 'after-reply');
    const result = await store.commit({
      runId: 'r1',
      instances: [{ record: makeInstance('a', { state: 'queued' }), expectedVersion: 1 }],
      transitions: [step('a', 2)],
    });
    await cut;
    expect(result).toEqual({ versions: new Map([['a', 2]]), lastSeq: 3 });
    expect(proxy.accepted).toBeGreaterThan(accepted);
    expect(await logLength()).toBe(3);
    expect((await store.loadRun('r1'))?.instances[0]).toMatchObject({ state: 'queued', version: 2 });
  });

  it('COMMIT lost on its way to the server: the transaction rolled back, the retry applies the batch once', async () => {
    const cut = proxy.cutOn(/^COMMIT$/, 'before');
    const result = await store.commit({
      runId: 'r1',
      instances: [{ record: makeInstance('a', { state: 'queued' }), expectedVersion: 1 }],
      transitions: [step('a', 2), step('b', 2)],
      results: [{ key: 'b', attempt: 1, value: 'B', at: 2 }],
    });
    await cut;
    expect(result).toEqual({ versions: new Map([['a', 2]]), lastSeq: 4 });
    const loaded = (await store.loadRun('r1'))!;
    expect(loaded.instances.map((i) => [i.key, i.version])).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
    expect(loaded.results).toHaveLength(1);
    expect(await logLength()).toBe(4);
  });

  it('the server committed but the reply was lost: the retry recognises the batch and does not apply it again', async () => {
    // A batch with only log entries: applying it twice would duplicate them (no version would stop it).
    const cut = proxy.cutOn(/^COMMIT$/, 'after-reply');
    const result = await store.commit({ runId: 'r1', transitions: [step('a', 2), step('b', 2), step('a', 3)] });
    await cut;
    expect(result).toEqual({ versions: new Map(), lastSeq: 5 });
    expect((await store.readTransitionLog('r1')).map((t) => t.seq)).toEqual([1, 2, 3, 4, 5]);

    // the same with instance writes: the result reports the versions the batch produced
    const cut2 = proxy.cutOn(/^COMMIT$/, 'after-reply');
    const second = await store.commit({
      runId: 'r1',
      instances: [
        { record: makeInstance('a', { state: 'queued' }), expectedVersion: 1 },
        { record: makeInstance('a', { state: 'running' }), expectedVersion: 2 },
        { record: makeInstance('c') },
      ],
      results: [{ key: 'a', attempt: 1, value: 'A', at: 4 }],
    });
    await cut2;
    expect(second).toEqual({ versions: new Map([['a', 3], ['c', 1]]), lastSeq: 5 });
    const loaded = (await store.loadRun('r1'))!;
    expect(loaded.instances.map((i) => [i.key, i.version, i.state])).toEqual([
      ['a', 3, 'running'],
      ['b', 1, 'scheduled'],
      ['c', 1, 'scheduled'],
    ]);
    expect(loaded.results.map((r) => r.value)).toEqual(['A']);
  });

  it('commit markers do not pile up: each is removed once its writer knows the outcome', async () => {
    for (let i = 0; i < 5; i++) await store.commit({ runId: 'r1', transitions: [step('a', i)] });
    const markers = async () => Number((await admin(`SELECT count(*) AS n FROM "${store.schema}".commit_markers`))[0]!['n']);
    expect(await markers()).toBe(1); // the last commit's, removed by the next one
    await store.close();
    expect(await markers()).toBe(0);
  });

  it('server gone while COMMIT was answered: StoreConnectionError "unknown"; wasCommitted says it landed, once', async () => {
    void proxy.cutOn(/^COMMIT$/, 'after-reply').then(() => proxy.refuse(true));
    const error = await rejection(store.commit({ runId: 'r1', transitions: [step('a', 2), step('b', 2)] }));
    expect(error).toBeInstanceOf(StoreConnectionError);
    const { batchId } = error as StoreConnectionError;
    expect(error).toMatchObject({ outcome: 'unknown', server: `127.0.0.1:${proxy.port}/postgres` });
    expect(batchId).toMatch(/^[0-9a-f-]{36}$/);
    expect(error.message).toMatch(
      new RegExp(
        `Could not commit a batch of run 'r1': PostgreSQL at 127\\.0\\.0\\.1:${proxy.port}/postgres is unreachable .* after 3 attempts\\. ` +
          `The connection broke while the server was committing batch ${batchId}: it was committed once or not at all .*store\\.wasCommitted\\('${batchId}'\\)`,
      ),
    );
    expect(inspect(error, { depth: Infinity, showHidden: true })).not.toContain(postgres!.password);

    proxy.refuse(false);
    expect(await store.wasCommitted(batchId!)).toBe(true);
    expect(await logLength()).toBe(4);
    await store.commit({ runId: 'r1', transitions: [step('a', 3)] });
    expect(await logLength()).toBe(5);
  });

  it('server gone before COMMIT reached it: "unknown" too, and wasCommitted says it did not land', async () => {
    void proxy.cutOn(/^COMMIT$/, 'before').then(() => proxy.refuse(true));
    const error = await rejection(
      store.commit({ runId: 'r1', instances: [{ record: makeInstance('a', { state: 'queued' }), expectedVersion: 1 }], transitions: [step('a', 2)] }),
    );
    expect(error).toMatchObject({ name: 'StoreConnectionError', outcome: 'unknown' });
    proxy.refuse(false);
    expect(await store.wasCommitted((error as StoreConnectionError).batchId!)).toBe(false);
    expect(await logLength()).toBe(2);
    expect((await store.loadRun('r1'))?.instances[0]).toMatchObject({ state: 'scheduled', version: 1 });
  });

  it('server down before the commit started: StoreConnectionError "not-written", and nothing was', async () => {
    proxy.refuse(true);
    const error = await rejection(store.commit({ runId: 'r1', transitions: [step('a', 2)] }));
    expect(error).toMatchObject({ name: 'StoreConnectionError', outcome: 'not-written' });
    expect(error.message).toMatch(/after 3 attempts\. Nothing was written\.$/);
    await expect(store.loadRun('r1')).rejects.toMatchObject({ name: 'StoreConnectionError', outcome: 'not-written' });
    proxy.refuse(false);
    expect(await logLength()).toBe(2);
  });

  it('server down past connectionRetries but within reconnectForMs: the commit waits for it and lands once', async () => {
    const url = new URL(postgres!.url);
    url.port = String(proxy.port);
    const patient = await openStore({ connectionString: url.href, schema: store.schema, connectionRetries: 2, reconnectForMs: 60_000 });
    proxy.refuse(true);
    const from = proxy.accepted;
    const commit = patient.commit({ runId: 'r1', transitions: [step('a', 2)] });
    // Down through the 3 tries connectionRetries allow, and more: the store keeps reconnecting.
    let settled = false;
    void commit.then(() => (settled = true), () => (settled = true));
    const deadline = Date.now() + 30_000;
    while (proxy.accepted - from < 6 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(proxy.accepted - from).toBeGreaterThanOrEqual(6);
    expect(settled).toBe(false);
    proxy.refuse(false);
    await commit;
    expect(await logLength()).toBe(3);
  });

  it('reconnectForMs bounds the waiting: a server down longer fails the operation with StoreConnectionError', async () => {
    const url = new URL(postgres!.url);
    url.port = String(proxy.port);
    const patient = await openStore({ connectionString: url.href, schema: store.schema, connectionRetries: 0, reconnectForMs: 400 });
    proxy.refuse(true);
    const started = Date.now();
    const error = await rejection(patient.commit({ runId: 'r1', transitions: [step('a', 2)] }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(error).toMatchObject({ name: 'StoreConnectionError', outcome: 'not-written' });
    proxy.refuse(false);
    expect(await logLength()).toBe(2);
  });

  it('a lease acquisition whose COMMIT reply was lost: the retry finds its own lease and keeps the token', async () => {
    const owner = { ownerId: 'me', host: 'h', pid: 1 };
    const cut = proxy.cutOn(/^COMMIT$/, 'after-reply');
    const { lease } = await store.acquireLease({ runId: 'r1', owner, ttlMs: 30_000, now: 1_000 });
    await cut;
    expect(lease).toMatchObject({ owner, token: 1, acquiredAt: 1_000, expiresAt: 31_000 });
    expect(await store.getLease('r1')).toEqual(lease);
    await store.commit({ runId: 'r1', leaseToken: lease.token, transitions: [step('a', 2)] });
    expect(await logLength()).toBe(3);
  });

  it('a control request whose reply was lost is retried and stored once, with the id it got', async () => {
    proxy.cutAll(); // fresh connections: the insert is prepared (and so can be cut) on first use
    const cut = proxy.cutOn(/INSERT INTO .*control_requests/, 'after-reply');
    const request = await store.requestControl({ runId: 'r1', action: 'clear', taskKey: 'a', requestedAt: 5 });
    await cut;
    expect(await store.pendingControls('r1')).toEqual([request]);
    expect(await admin(`SELECT count(*)::int AS n FROM "${store.schema}".control_requests`)).toEqual([{ n: 1 }]);
  });

  it('a checkpoint save and a delete survive a lost connection too', async () => {
    const cut = proxy.cutOn(/^BEGIN/, 'after-reply');
    proxy.cutAll();
    await store.saveCheckpoint({ runId: 'r1', key: 'a', value: { epoch: 3 }, savedAt: 5 });
    expect((await store.loadCheckpoint('r1', 'a'))?.value).toEqual({ epoch: 3 });
    expect(await store.deleteRun('r1')).toBe(true);
    await cut;
    expect(await store.getRun('r1')).toBeUndefined();
    expect(await admin(`SELECT * FROM "${store.schema}".checkpoints`)).toEqual([]);
  });
});

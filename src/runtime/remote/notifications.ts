import { createHash } from 'node:crypto';
import type { Client, Notification } from 'pg';
import type { PostgresStore, SqlSession } from '../../stores/postgresStore.ts';
import { connectionOf } from './attemptQueue.ts';

/**
 * What a notification says: `queued` — a driver committed attempt jobs (workers fetch now);
 * `stored` — a worker committed attempts' outcomes (the payload is the run id: its driver polls now);
 * `aborted` — a driver ended attempts a worker runs (the payload is the worker's id: it heartbeats
 * now, learns which, and aborts their signals); `answered` — a driver stored the answers of
 * `ctx().call`s that attempts on a worker made (the payload is the worker's id: it reads them now).
 * A worker's call request itself is announced as `stored` (with the run id): the driver's poll
 * reads requests and outcomes together.
 *
 * @example
 * ```ts
 * const kind: NotificationKind = 'stored';
 * ```
 */
export type NotificationKind = 'queued' | 'stored' | 'aborted' | 'answered';

/**
 * The LISTEN/NOTIFY channel of a store schema for one kind: a short fixed-length name (a channel is
 * an identifier of at most 63 bytes, and a schema may already be 63).
 *
 * @example
 * ```ts
 * channelOf('taskmachine', 'queued'); // 'taskmachine_<12 hex digits>_queued'
 * ```
 */
export function channelOf(schema: string, kind: NotificationKind): string {
  // (Asked on every commit that notifies: the hash is made once per schema.)
  let prefix = channelPrefixes.get(schema);
  if (prefix === undefined) channelPrefixes.set(schema, (prefix = `taskmachine_${createHash('sha256').update(schema).digest('hex').slice(0, 12)}`));
  return `${prefix}_${kind}`;
}

const channelPrefixes = new Map<string, string>();

/**
 * Sends one notification per payload on `channel` now, in a statement of its own on `db` (a pool),
 * for work that has just committed elsewhere. Not inside that work's transaction: PostgreSQL
 * serializes every committing transaction that notified, cluster-wide, through its commit; this
 * statement commits without waiting for the disk (`synchronous_commit` off for it alone: a
 * notification is only a hint), so it holds that lock only briefly. Never rejects: a lost
 * notification only waits for the listener's next poll.
 *
 * @example
 * ```ts
 * await store.transaction('store outcomes', work);
 * void notifyNow(store.pool, channelOf(store.schema, 'stored'), [runId]);
 * ```
 */
export async function notifyNow(db: SqlSession, channel: string, payloads: readonly string[]): Promise<void> {
  if (payloads.length === 0) return;
  try {
    await db.query(`SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, p) FROM unnest($2::text[]) AS p`, [channel, [...new Set(payloads)]]);
  } catch {
    // (The poll finds what it announced.)
  }
}

/**
 * A handler's hold on a channel (see {@link listen}).
 *
 * @example
 * ```ts
 * const subscription = listen(store, channel, wake);
 * subscription.connected(); // false until LISTEN ran, and while the connection is being made again
 * subscription.unsubscribe();
 * ```
 */
export interface Subscription {
  /** Whether notifications arrive now (LISTEN ran on a live connection): polls may slow down. */
  connected(): boolean;
  /** Stops the handler; the last one of a store releases the connection. */
  unsubscribe(): void;
}

/** How long a broken LISTEN connection waits before it is made again. */
const RECONNECT_MS = 1_000;

/** One LISTEN connection per store in this process, shared by every subscription on it. */
interface Hub {
  readonly store: PostgresStore;
  readonly handlers: Map<string, Set<(payload: string) => void>>;
  client: Client | undefined;
  /** Channels LISTENed on `client`. */
  readonly listening: Set<string>;
  connecting: boolean;
  retry: ReturnType<typeof setTimeout> | undefined;
}

const hubs = new WeakMap<PostgresStore, Hub>();

/**
 * Calls `handler` with the payload of every notification on `channel`, through one connection per
 * store made with the pool's settings (not taken from the pool: closing the store never waits for
 * it, and it takes none of the pool's connections), made again a second after it breaks (e.g. when
 * PostgreSQL restarts) and closed when the last subscription goes. It never keeps the process alive.
 * Notifications only speed things up: whoever listens also polls, less often while
 * {@link Subscription.connected}, so one lost while the connection was down delays, never loses,
 * what it announced. Errors of the connection are never thrown at the caller.
 *
 * @example
 * ```ts
 * const subscription = listen(store, channelOf(store.schema, 'queued'), () => wakeTheFetchLoop());
 * // … later
 * subscription.unsubscribe();
 * ```
 */
export function listen(store: PostgresStore, channel: string, handler: (payload: string) => void): Subscription {
  let hub = hubs.get(store);
  if (hub === undefined) {
    hub = { store, handlers: new Map(), client: undefined, listening: new Set(), connecting: false, retry: undefined };
    hubs.set(store, hub);
  }
  const of = hub.handlers.get(channel) ?? new Set();
  hub.handlers.set(channel, of);
  of.add(handler);
  const current = hub;
  void sync(current);
  let active = true;
  return {
    connected: () => active && current.client !== undefined && current.listening.has(channel),
    unsubscribe: () => {
      if (!active) return;
      active = false;
      of.delete(handler);
      if (of.size === 0) current.handlers.delete(channel);
      void sync(current);
    },
  };
}

/** Brings the hub's connection in line with its handlers: connected and LISTENing, or released. */
async function sync(hub: Hub): Promise<void> {
  // A sync under way looks again when it is done (ending a client that is still connecting would
  // leave its connect() pending for good).
  if (hub.connecting) return;
  if (hub.handlers.size === 0) {
    if (hub.retry !== undefined) clearTimeout(hub.retry);
    hub.retry = undefined;
    drop(hub);
    return;
  }
  if (hub.retry !== undefined) return;
  hub.connecting = true;
  try {
    if (hub.client === undefined) {
      const pg = ((await import('pg')) as unknown as { default: { Client: new (config: object) => Client } }).default;
      const client = new pg.Client({ ...connectionOf(hub.store), application_name: 'taskmachine-listen', keepAlive: true, keepAliveInitialDelayMillis: CHECK_EVERY_MS });
      client.on('error', () => broken(hub, client));
      client.on('end', () => broken(hub, client));
      client.on('notification', (message: Notification) => {
        for (const handler of hub.handlers.get(message.channel) ?? []) handler(message.payload ?? '');
      });
      hub.client = client;
      await client.connect();
      // Only a speed-up: it must not keep a process alive that has nothing else to do.
      (client as unknown as { connection?: { stream?: { unref?: () => void } } }).connection?.stream?.unref?.();
      watch(hub, client);
    }
    const client = hub.client;
    for (const channel of hub.handlers.keys()) {
      if (hub.listening.has(channel)) continue;
      await client.query(`LISTEN "${channel}"`);
      hub.listening.add(channel);
    }
  } catch {
    if (hub.client !== undefined) broken(hub, hub.client);
    else scheduleRetry(hub);
    return;
  } finally {
    hub.connecting = false;
  }
  // Handlers may have come or gone while LISTEN ran.
  const wanted = [...hub.handlers.keys()];
  if (hub.handlers.size === 0 || wanted.some((channel) => !hub.listening.has(channel))) void sync(hub);
}

/** How often an idle LISTEN connection is checked (and TCP keep-alive's first probe). */
const CHECK_EVERY_MS = 15_000;
/** A check not answered within this is a connection that silently died (a failover, a dropped route). */
const CHECK_TIMEOUT_MS = 5_000;

/**
 * Checks the connection now and then with `SELECT 1`: a connection that silently died would keep
 * `connected()` true while nothing arrives, and the polls slow. One not answered in time is broken.
 */
function watch(hub: Hub, client: Client): void {
  const timer = setInterval(() => {
    if (hub.client !== client) {
      clearInterval(timer);
      return;
    }
    const late = setTimeout(() => broken(hub, client), CHECK_TIMEOUT_MS);
    late.unref?.();
    client.query('SELECT 1').then(
      () => clearTimeout(late),
      () => {
        clearTimeout(late);
        broken(hub, client);
      },
    );
  }, CHECK_EVERY_MS);
  timer.unref?.();
}

/** The connection broke: it is closed, and made again a little later while anyone listens. */
function broken(hub: Hub, client: Client): void {
  if (hub.client !== client) return;
  drop(hub);
  scheduleRetry(hub);
}

function scheduleRetry(hub: Hub): void {
  if (hub.retry !== undefined || hub.handlers.size === 0) return;
  hub.retry = setTimeout(() => {
    hub.retry = undefined;
    void sync(hub);
  }, RECONNECT_MS);
  hub.retry.unref?.();
}

/** Closes the connection. */
function drop(hub: Hub): void {
  const client = hub.client;
  hub.client = undefined;
  hub.listening.clear();
  if (client === undefined) return;
  client.removeAllListeners('notification');
  // (Its 'error' listener stays: a closing client may still report its socket's end.)
  client.end().catch(() => {});
}

// How the PostgreSQL store uses its connections: a client whose connection broke is destroyed, not
// handed back to the pool, and an operation that failed on a broken connection (or that the server
// asks to retry) is tried again on a fresh one — `connectionRetries` times, then until
// `reconnectForMs` passed — before it fails with an error that names the server, never a secret.
// Opening the store is the exception: `reconnectForMs` rides out a server lost mid-run, so a first
// connection that fails (no server there, a mistyped host) fails after `connectionRetries`.
import { setTimeout as delay } from 'node:timers/promises';
import type { Pool, PoolClient } from 'pg';
import { closedError } from '../batchChecks.ts';
import { StoreConnectionError, StoreError } from '../errors.ts';
import { connectRefusal, isConnectionError, isTransient, redact, safeCause, serverError, sqlState } from './connection.ts';

/** What an unreachable server's error on opening the store says to check. */
const unreachableFix = ' Is the server running, and reachable from here? Check the host and port of the connection string.';

/** The longest wait between two tries of an operation (retryDelayMs doubles up to it). */
const maxRetryDelayMs = 1_000;

/** Ends the client's transaction; a client whose ROLLBACK fails is marked broken. */
export async function rollback(client: PoolClient, broken: (error: unknown) => void): Promise<void> {
  try {
    await client.query('ROLLBACK');
  } catch (error) {
    broken(error); // never hand a connection in an unknown transaction state back to the pool
  }
}

/**
 * Runs `work` in a transaction opened by `begin` and commits it. A failure rolls it back, unless
 * the connection broke: then there is nothing to roll back on, and the client is destroyed.
 */
export async function inTransaction<T>(client: PoolClient, broken: (error: unknown) => void, begin: string, work: () => Promise<T>): Promise<T> {
  await client.query(begin);
  try {
    const out = await work();
    await client.query('COMMIT');
    return out;
  } catch (error) {
    if (!isConnectionError(error)) await rollback(client, broken);
    throw error;
  }
}

/** What the retries close over: the pool, where it is (for errors), the retry options, whether the store closed. */
export interface RetryContext {
  readonly pool: Pool;
  readonly server: string;
  readonly secrets: readonly string[];
  /** The server and schema, as the closed-store error names them. */
  readonly where: string;
  /** `connectionRetries`. */
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly reconnectForMs: number;
  readonly isClosed: () => boolean;
}

/** The connection and retry helpers of one store. */
export function retrier(context: RetryContext) {
  const { pool, server, secrets, where, retries, retryDelayMs, reconnectForMs, isClosed } = context;

  /** Runs `work` on a checked-out client; a client whose connection broke is destroyed, not reused. */
  async function withClient<T>(work: (client: PoolClient, broken: (error: unknown) => void) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    let brokenBy: Error | undefined;
    const broken = (error: unknown): void => {
      brokenBy ??= error instanceof Error ? error : new Error(String(error));
    };
    client.on('error', broken);
    try {
      return await work(client, broken);
    } catch (error) {
      if (isConnectionError(error)) broken(error);
      throw error;
    } finally {
      client.off('error', broken);
      client.release(brokenBy ?? false);
    }
  }

  /**
   * What an operation that failed after `attempts` tries throws: a StoreConnectionError when the
   * connection broke or a COMMIT's outcome is unknown, the server's refusal as a StoreError, or the
   * error itself — none showing a secret.
   */
  function giveUp(error: unknown, attempts: number, doing: string, outcome: 'not-written' | 'unknown', batchId?: string, fix = ''): Error {
    if (error instanceof StoreError) return error;
    const refused = connectRefusal(error, server, secrets, doing);
    if (refused !== undefined) return refused;
    // After a COMMIT whose reply was lost, any failure of the retries leaves the outcome unknown.
    if (isConnectionError(error) || outcome === 'unknown') {
      const reason = redact((error as Error).message, secrets);
      const cause = safeCause(error, secrets);
      const tail =
        outcome === 'unknown'
          ? ` The connection broke while the server was committing batch ${batchId}: it was committed once or not at all ` +
            `(never twice, never in part). Once the server is reachable, store.wasCommitted('${batchId}') tells which; ` +
            'or reload the run (store.loadRun) before writing again.'
          : ` Nothing was written.${isConnectionError(error) ? fix : ''}`;
      return new StoreConnectionError({
        server,
        outcome,
        ...(batchId === undefined ? {} : { batchId }),
        message: `Could not ${doing}: PostgreSQL at ${server} ${isConnectionError(error) ? 'is unreachable' : 'failed'} (${reason}) after ${attempts} attempt${attempts === 1 ? '' : 's'}.${tail}`,
        cause,
      });
    }
    if (sqlState(error) !== undefined) return serverError(error as Error, server, secrets, doing);
    return error instanceof Error ? error : new StoreError(String(error));
  }

  /**
   * Whether an operation that failed with `error` on its `attempt`-th try, `since` its first
   * failure (a time), is tried again: a transient error within `connectionRetries`, and after them
   * a broken connection until `reconnectFor` (`reconnectForMs` unless given) ms have passed.
   */
  function tryAgain(error: unknown, attempt: number, since: number, reconnectFor: number = reconnectForMs): boolean {
    if (error instanceof StoreError || !isTransient(error)) return false;
    if (attempt <= retries) return true;
    return isConnectionError(error) && Date.now() - since < reconnectFor;
  }

  /** The wait before try `attempt + 1`: retryDelayMs doubled per try, at most 1 s (at least 50 ms once past `connectionRetries`). */
  function backoff(attempt: number): Promise<void> {
    const ms = Math.min(retryDelayMs * 2 ** (attempt - 1), maxRetryDelayMs);
    return delay(attempt > retries ? Math.max(ms, 50) : ms);
  }

  /**
   * Runs `work`, again on a fresh connection while it fails with a transient error. `opening`: the
   * store's first connection — tried `connectionRetries` more times only (`reconnectForMs` is for
   * a server lost mid-run, not one that is not there), and an unreachable server's error says
   * what to check.
   */
  async function retrying<T>(doing: string, work: () => Promise<T>, { opening = false }: { readonly opening?: boolean } = {}): Promise<T> {
    let since = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (isClosed()) throw closedError(`PostgreSQL store (${where})`);
        if (attempt === 1) since = Date.now();
        if (!tryAgain(error, attempt, since, opening ? 0 : reconnectForMs)) {
          throw giveUp(error, attempt, doing, 'not-written', undefined, opening ? unreachableFix : '');
        }
        await backoff(attempt);
      }
    }
  }

  return { withClient, giveUp, tryAgain, backoff, retrying };
}

/** What {@link retrier} returns. */
export type Retrier = ReturnType<typeof retrier>;

import { ChildTaskFailedError, toError } from '../../errors.ts';
import { frozen } from '../../frozen.ts';
import type { SqlSession } from '../../stores/postgresStore.ts';
import { deserializeValue, serializeValue } from '../../stores/serialization.ts';

/**
 * A `ctx().call` an attempt on a worker asks its driver to make, as the worker writes it.
 *
 * @example
 * ```ts
 * const request: CallRequest = { launchId, seq: 0, runId: 'nightly', taskId: 'fetchPage', index: 0, input: serializeValue({ url: '/a' }), customContext: '{}', requestedAt: Date.now() };
 * ```
 */
export interface CallRequest {
  /** The calling attempt's launch. */
  readonly launchId: string;
  /** The call's number among the attempt's calls (0, 1, …): with `launchId`, the request's key. */
  readonly seq: number;
  readonly runId: string;
  /** The called task's id (a task of the run's flow: the worker checked). */
  readonly taskId: string;
  /** The call's number among the attempt's calls of this task: the child's key is `parent/taskId#index`. */
  readonly index: number;
  /** The call's input, as `serializeValue` wrote it. */
  readonly input: string;
  /** The custom context in force at the call, as JSON. */
  readonly customContext: string;
  /** Epoch ms. */
  readonly requestedAt: number;
}

/**
 * The statements on the `attempt_calls` table of one store schema (migration 6): the only code
 * that reads or writes it. A worker's request is fenced on its launch (still `running` for that
 * worker), like every other write a worker makes; the driver answers each request once.
 *
 * @example
 * ```ts
 * const calls = new CallTable('"taskmachine"');
 * if (!(await calls.request(store.pool, workerId, request))) throw new Error('the attempt has ended');
 * ```
 */
export class CallTable {
  readonly #calls: string;
  readonly #launches: string;

  /** @param schema the store's schema as a quoted identifier (`"taskmachine"`). */
  constructor(schema: string) {
    this.#calls = `${schema}.attempt_calls`;
    this.#launches = `${schema}.attempt_launches`;
  }

  /**
   * A worker asks for a call; resolves to whether its launch was still `running` for it (else
   * nothing is written: the driver ended the attempt, or gave it up as lost). The launch's
   * `calls` counts the requests, in the same statement: how the driver's poll learns of one. (A
   * count, not the highest `seq`: concurrent calls' requests may commit in any order.) Repeated
   * after a lost reply, it writes and counts no second request.
   */
  async request(db: SqlSession, worker: string, call: CallRequest): Promise<boolean> {
    const res = await db.query(
      `WITH held AS (
         SELECT launch_id FROM ${this.#launches} WHERE launch_id = $1::uuid AND status = 'running' AND worker = $3 FOR UPDATE
       ), requested AS (
         INSERT INTO ${this.#calls} (launch_id, seq, run_id, task_id, call_index, input, custom_context, requested_at)
         SELECT launch_id, $2, $4, $5, $6, $7, $8, $9 FROM held
         ON CONFLICT (launch_id, seq) DO NOTHING
         RETURNING launch_id
       ), counted AS (
         UPDATE ${this.#launches} SET calls = calls + 1 WHERE launch_id IN (SELECT launch_id FROM requested)
       )
       SELECT count(*)::int AS held FROM held`,
      [call.launchId, call.seq, worker, call.runId, call.taskId, call.index, call.input, call.customContext, call.requestedAt],
    );
    return Number(res.rows[0]?.['held'] ?? 0) > 0;
  }

  /** The requests not answered yet of these launches (the driver's), in the order they were made. */
  async requested(db: SqlSession, launchIds: readonly string[]): Promise<CallRequest[]> {
    if (launchIds.length === 0) return [];
    const res = await db.query(
      `SELECT launch_id, seq, run_id, task_id, call_index, input, custom_context, requested_at FROM ${this.#calls}
       WHERE launch_id = ANY($1::uuid[]) AND status = 'requested' ORDER BY launch_id, seq`,
      [launchIds],
    );
    return res.rows.map((row: Record<string, unknown>) => ({
      launchId: String(row['launch_id']),
      seq: Number(row['seq']),
      runId: String(row['run_id']),
      taskId: String(row['task_id']),
      index: Number(row['call_index']),
      input: String(row['input']),
      customContext: String(row['custom_context']),
      requestedAt: Number(row['requested_at']),
    }));
  }

  /**
   * The driver answers requests (`answer`: superjson text); resolves to the workers running their
   * launches, to notify (none for a request answered before, or a launch no worker holds).
   */
  async answer(db: SqlSession, answers: ReadonlyArray<{ launchId: string; seq: number; answer: string }>, now: number): Promise<string[]> {
    if (answers.length === 0) return [];
    const res = await db.query(
      `WITH answered AS (
         UPDATE ${this.#calls} AS c SET status = 'answered', answer = a.answer, answered_at = $4
         FROM unnest($1::uuid[], $2::bigint[], $3::text[]) AS a(launch_id, seq, answer)
         WHERE c.launch_id = ANY($1::uuid[]) AND c.launch_id = a.launch_id AND c.seq = a.seq AND c.status = 'requested'
         RETURNING c.launch_id
       )
       SELECT DISTINCT l.worker FROM ${this.#launches} AS l WHERE l.launch_id IN (SELECT launch_id FROM answered) AND l.worker IS NOT NULL`,
      [answers.map((a) => a.launchId), answers.map((a) => a.seq), answers.map((a) => a.answer), now],
    );
    return res.rows.map((row: Record<string, unknown>) => String(row['worker']));
  }

  /** A worker reads the answers among its waiting calls (`launch_id`, `seq` pairs). */
  async answers(db: SqlSession, waiting: ReadonlyArray<{ launchId: string; seq: number }>): Promise<Array<{ launchId: string; seq: number; answer: string }>> {
    if (waiting.length === 0) return [];
    const res = await db.query(
      // One primary-key lookup per waiting call, whatever the statistics say of the table.
      `SELECT w.launch_id, w.seq, c.answer FROM unnest($1::uuid[], $2::bigint[]) AS w(launch_id, seq)
       JOIN LATERAL (SELECT answer FROM ${this.#calls} WHERE launch_id = w.launch_id AND seq = w.seq AND status = 'answered' LIMIT 1) AS c ON true`,
      [waiting.map((w) => w.launchId), waiting.map((w) => w.seq)],
    );
    return res.rows.map((row: Record<string, unknown>) => ({ launchId: String(row['launch_id']), seq: Number(row['seq']), answer: String(row['answer']) }));
  }
}

/** What a call's answer holds (superjson text in `attempt_calls.answer`). */
type StoredAnswer =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: Error; readonly childFailed?: { readonly taskKey: string; readonly state: string } };

/**
 * The driver's answer to a call, as stored: the child's result, or the error the call rejects
 * with. A {@link ChildTaskFailedError} keeps its key and state (stored errors come back as plain
 * `Error`s, and callers test `instanceof ChildTaskFailedError`). Never throws: an error that
 * cannot be stored is answered with its name and message only.
 *
 * @example
 * ```ts
 * const text = encodeAnswer({ ok: true, value: 42 });
 * await decodeAnswer(text); // 42
 * ```
 */
export function encodeAnswer(settled: { ok: true; value: unknown } | { ok: false; error: unknown }): string {
  if (settled.ok) {
    try {
      return serializeValue({ ok: true, value: settled.value } satisfies StoredAnswer);
    } catch (error) {
      return encodeAnswer({ ok: false, error });
    }
  }
  const error = toError(settled.error);
  const childFailed = error instanceof ChildTaskFailedError ? { taskKey: error.taskKey, state: error.state } : undefined;
  try {
    return serializeValue({ ok: false, error, ...(childFailed === undefined ? {} : { childFailed }) } satisfies StoredAnswer);
  } catch {
    const plain = new Error(error.message);
    plain.name = error.name;
    return serializeValue({ ok: false, error: plain, ...(childFailed === undefined ? {} : { childFailed }) } satisfies StoredAnswer);
  }
}

/**
 * What a call settles with, from its stored answer (see {@link encodeAnswer}): resolves to the
 * child's result (deeply frozen, as a local call's), or rejects with the error.
 *
 * @example
 * ```ts
 * await decodeAnswer(encodeAnswer({ ok: false, error: new ChildTaskFailedError('p/c#0', 'failed') })); // rejects: instanceof ChildTaskFailedError
 * ```
 */
export function decodeAnswer(text: string): Promise<unknown> {
  let stored: StoredAnswer;
  try {
    stored = deserializeValue<StoredAnswer>(text);
  } catch (error) {
    return Promise.reject(toError(error));
  }
  if (stored.ok) return Promise.resolve(frozen(stored.value));
  if (stored.childFailed === undefined) return Promise.reject(stored.error);
  const { taskKey, state } = stored.childFailed;
  return Promise.reject(new ChildTaskFailedError(taskKey, state, { cause: stored.error.cause }));
}

import { formatEdgeLabel } from '../../src/testing/index.ts';

/**
 * A hand-written transition table, independent of the machine code: the oracle the generated
 * model tests compare a live actor against. Rows are tried in order; the first whose `from`,
 * `event` and `when` match decides the outcome. An event no row accepts is illegal.
 */
export interface Spec<TModel extends { state: string }, TEvent extends { type: string }> {
  readonly name: string;
  readonly rows: readonly SpecRow<TModel, TEvent>[];
}

export interface SpecRow<TModel extends { state: string }, TEvent extends { type: string }> {
  readonly from: string;
  readonly event: TEvent['type'];
  /** Guard label of the branch the machine must choose: a guard name, `'else'`, or none. */
  readonly guard?: string;
  /** When the row applies (the guard, written independently of the machine). */
  readonly when?: (model: TModel, event: TEvent) => boolean;
  /** Target state; for a targetless row, the `from` state. */
  readonly to: string;
  /**
   * The state path the machine is in afterwards, when `to` is a compound state (its initial child,
   * e.g. `running.active` for `running`); `to` by default.
   */
  readonly toState?: string;
  /** Expected changes to the rest of the model (attempt counter, retry budget, …). */
  readonly update?: (model: TModel, event: TEvent) => Partial<TModel>;
  /** In plain words, the attempt effect (for failure messages). */
  readonly note?: string;
  /**
   * Set when the machine knowingly disagrees with this row (reported, not yet fixed). The row is
   * left out of the comparison and checked by an `it.fails` test instead, which turns red once the
   * machine is fixed so the marker gets removed.
   */
  readonly knownDeviation?: string;
}

/** The label the matching machine edge has (`running →FAIL[canRetryFailedAttempt]→ up_for_retry`). */
export function rowLabel<TModel extends { state: string }, TEvent extends { type: string }>(
  row: SpecRow<TModel, TEvent>,
): string {
  return formatEdgeLabel({
    source: row.from,
    eventType: row.event,
    guard: row.guard === 'else' ? undefined : row.guard,
    fallback: row.guard === 'else',
    targets: [row.to],
  });
}

export type SpecOutcome<TModel extends { state: string }, TEvent extends { type: string }> =
  | { readonly legal: true; readonly row: SpecRow<TModel, TEvent>; readonly next: TModel }
  | { readonly legal: false };

/** What the spec says `event` does in `model` (rows with a known deviation are skipped). */
export function specStep<TModel extends { state: string }, TEvent extends { type: string }>(
  spec: Spec<TModel, TEvent>,
  model: TModel,
  event: TEvent,
  options: { includeDeviations?: boolean } = {},
): SpecOutcome<TModel, TEvent> {
  for (const row of spec.rows) {
    if (row.knownDeviation && !options.includeDeviations) continue;
    // A row of a compound state applies in each of its children (`running` in `running.active`).
    if ((row.from !== model.state && !model.state.startsWith(`${row.from}.`)) || row.event !== event.type) continue;
    if (row.when && !row.when(model, event)) continue;
    return { legal: true, row, next: { ...model, ...row.update?.(model, event), state: row.toState ?? row.to } };
  }
  return { legal: false };
}

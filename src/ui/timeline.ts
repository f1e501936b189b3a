import type { TaskInstanceState } from '../../machines/index.ts';
import type { StoredTransition } from '../stores/index.ts';
import { stateHex } from '../viz/index.ts';
import { duration } from './format.ts';
import { html, type SafeHtml } from './html.ts';

/**
 * A stretch of time a task instance spent in one state, between two transitions.
 *
 * @example
 * ```ts
 * const wait: Segment = { state: 'up_for_retry', from: 1_000, to: 31_000, endedBy: 'RETRY' };
 * ```
 */
export interface Segment {
  readonly state: TaskInstanceState;
  readonly from: number;
  /** `undefined` while it is still in that state. */
  readonly to: number | undefined;
  /** The event that ended it (`INTERRUPT` marks an interrupted attempt). */
  readonly endedBy: string | undefined;
}

/**
 * One attempt as the transition log tells it: when it ran and how it ended.
 *
 * @example
 * ```ts
 * const first: AttemptView = { number: 1, startedAt: 1_000, endedAt: 1_400, outcome: 'up_for_retry', event: 'FAIL' };
 * ```
 */
export interface AttemptView {
  readonly number: number;
  readonly startedAt: number;
  readonly endedAt: number | undefined;
  /** The state it ended in (`running` while it runs). */
  readonly outcome: TaskInstanceState;
  readonly event: string | undefined;
}

/**
 * The stretches of one instance's transitions (in log order).
 *
 * @example
 * ```ts
 * segmentsOf(log.filter((t) => t.key === 'load')).map((s) => s.state); // ['scheduled', 'queued', 'running', 'success']
 * ```
 */
export function segmentsOf(transitions: readonly StoredTransition[]): Segment[] {
  const out: Segment[] = [];
  for (const [i, t] of transitions.entries()) {
    const next = transitions[i + 1];
    out.push({ state: t.to, from: t.at, to: next?.at, endedBy: next?.event });
  }
  return out;
}

/**
 * The attempts of one instance: every stretch in `running`, numbered as the machine counts them
 * (`SCHEDULE` and `RETRY` start a new attempt; an interruption, a deferral, a checkpoint or a poke
 * runs the same attempt again).
 *
 * @example
 * ```ts
 * attemptsOf(log.filter((t) => t.key === 'load')).length; // attempts that ran, interruptions included
 * ```
 */
export function attemptsOf(transitions: readonly StoredTransition[]): AttemptView[] {
  const out: AttemptView[] = [];
  let number = 0;
  for (const [i, t] of transitions.entries()) {
    if (t.event === 'SCHEDULE' || t.event === 'RETRY') number++;
    if (t.event === 'CLEAR' && t.to === 'none') number = 0;
    if (t.to !== 'running') continue;
    const end = transitions[i + 1];
    out.push({ number: Math.max(number, 1), startedAt: t.at, endedAt: end?.at, outcome: end?.to ?? 'running', event: end?.event });
  }
  return out;
}

const drawn: ReadonlySet<TaskInstanceState> = new Set(['queued', 'running', 'up_for_retry', 'up_for_reschedule', 'deferred', 'checkpointed', 'restarting']);
const active: ReadonlySet<TaskInstanceState> = new Set(['scheduled', 'queued', 'running', 'restarting', 'up_for_retry']);

/**
 * A time axis shared by the rows of one timeline.
 *
 * @example
 * ```ts
 * const axis: TimeAxis = { start: run.startedAt!, end: Date.now() };
 * ```
 */
export interface TimeAxis {
  readonly start: number;
  readonly end: number;
}

/**
 * The axis of a set of instances' transitions: from the first to now while one of them is busy,
 * else to the last transition (a run waiting for a person does not squash its attempts into a
 * sliver); `undefined` when there is none.
 *
 * @example
 * ```ts
 * const axis = timeAxis([...byKey.values()], Date.now());
 * ```
 */
export function timeAxis(rows: ReadonlyArray<readonly StoredTransition[]>, now: number): TimeAxis | undefined {
  let start = Infinity;
  let end = -Infinity;
  let busy = false;
  for (const transitions of rows) {
    for (const t of transitions) {
      start = Math.min(start, t.at);
      end = Math.max(end, t.at);
    }
    const last = transitions.at(-1);
    if (last !== undefined && active.has(last.to)) busy = true;
  }
  if (start === Infinity) return undefined;
  if (busy) end = Math.max(end, now);
  return { start, end: Math.max(end, start + 1) };
}

/**
 * One instance's Gantt bar on `axis` (an SVG 1000 units wide that stretches to its cell): its
 * attempts solid, in the colour of how they ended; its waits (queued, retry delay, deferral,
 * checkpoint) thin; an interruption as a red tick. Each piece says what it was in its tooltip.
 *
 * @example
 * ```ts
 * html`<td>${timelineBar('load', transitions, axis, Date.now())}</td>`
 * ```
 */
export function timelineBar(key: string, transitions: readonly StoredTransition[], axis: TimeAxis, now: number): SafeHtml {
  const span = axis.end - axis.start;
  const x = (at: number) => Math.min(1000, Math.max(0, ((at - axis.start) / span) * 1000));
  const attempts = attemptsOf(transitions);
  const pieces = segmentsOf(transitions)
    .filter((segment) => drawn.has(segment.state))
    .map((segment) => {
      const to = Math.min(segment.to ?? now, axis.end);
      const attempt = segment.state === 'running' ? attempts.find((a) => a.startedAt === segment.from) : undefined;
      const ended = attempt === undefined || attempt.outcome === 'running' ? 'running' : attempt.outcome;
      const fill = segment.state === 'running' ? stateHex(ended) : stateHex(segment.state);
      const running = segment.state === 'running';
      const title = `${key} ${segment.state}${attempt ? ` (attempt ${attempt.number} → ${attempt.outcome})` : ''}: ${duration((segment.to ?? now) - segment.from)}`;
      const interrupt = segment.endedBy === 'INTERRUPT' ? html`<rect x="${x(to).toFixed(1)}" y="0" width="6" height="16" class="tl-interrupt"><title>interrupted: runs again, no retry used</title></rect>` : '';
      return html`<rect x="${x(segment.from).toFixed(1)}" y="${running ? 1 : 5}" width="${Math.max(x(to) - x(segment.from), 4).toFixed(1)}" height="${running ? 14 : 6}" fill="${fill}" class="tl-${segment.state}" data-ended="${running ? ended : ''}"><title>${title}</title></rect>${interrupt}`;
    });
  return html`<svg class="tl" viewBox="0 0 1000 16" preserveAspectRatio="none" role="img" aria-label="${key} over time">${pieces}</svg>`;
}

/**
 * The header of a timeline column: where its axis starts and how long it is.
 *
 * @example
 * ```ts
 * html`<th>${axisLabel(axis)}</th>`
 * ```
 */
export function axisLabel(axis: TimeAxis | undefined): SafeHtml {
  if (axis === undefined) return html`Timeline`;
  return html`<span class="axis"><span>${new Date(axis.start).toISOString().slice(11, 19)}</span><span>+${duration(axis.end - axis.start)}</span></span>`;
}

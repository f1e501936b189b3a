import type { TaskInstanceState } from '../../machines/index.ts';
import type { StoredTransition } from '../stores/index.ts';
import { stateHex } from '../viz/index.ts';
import { duration } from './format.ts';
import { html, type SafeHtml } from './html.ts';

/** A stretch of time a task instance spent in one state, between two transitions. */
export interface Segment {
  readonly state: TaskInstanceState;
  readonly from: number;
  /** `undefined` while it is still in that state. */
  readonly to: number | undefined;
  /** The event that ended it (`INTERRUPT` marks an interrupted attempt). */
  readonly endedBy: string | undefined;
}

/** One attempt as the transition log tells it: when it ran and how it ended. */
export interface AttemptView {
  readonly number: number;
  readonly startedAt: number;
  readonly endedAt: number | undefined;
  /** The state it ended in (`running` while it runs). */
  readonly outcome: TaskInstanceState;
  readonly event: string | undefined;
}

/** The stretches of one instance's transitions (in log order). */
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

/**
 * A Gantt chart of instances: per row, its attempts (solid, in the colour of how they ended) and
 * its waits (retry delays, deferrals, checkpoints, queueing: lighter), interruptions marked with ✕,
 * on one time axis from `start` to `end`.
 */
export function timelineSvg(rows: ReadonlyArray<{ key: string; href: string; transitions: readonly StoredTransition[] }>, now: number): SafeHtml {
  const all = rows.flatMap((row) => row.transitions);
  if (all.length === 0) return html`<p class="muted">No transitions yet.</p>`;
  const start = Math.min(...all.map((t) => t.at));
  const end = Math.max(now, ...all.map((t) => t.at));
  const span = Math.max(end - start, 1);
  const width = 1000;
  const label = 170;
  const rowHeight = 20;
  const x = (at: number) => label + ((at - start) / span) * (width - label - 10);
  const bars = rows.map((row, r) => {
    const y = 18 + r * rowHeight;
    const segments = segmentsOf(row.transitions).filter((s) => drawn.has(s.state));
    const attempts = attemptsOf(row.transitions);
    return html`<g class="tl-row" data-key="${row.key}">
<a href="${row.href}"><text x="4" y="${y + 12}" class="tl-key">${row.key.length > 24 ? `${row.key.slice(0, 23)}…` : row.key}</text></a>
${segments.map((s) => {
  const to = s.to ?? now;
  const attempt = s.state === 'running' ? attempts.find((a) => a.startedAt === s.from) : undefined;
  const fill = s.state === 'running' ? stateHex(attempt?.outcome === 'running' || attempt === undefined ? 'running' : attempt.outcome) : stateHex(s.state);
  const title = `${row.key} ${s.state}${attempt ? ` (attempt ${attempt.number} → ${attempt.outcome})` : ''}: ${duration(to - s.from)}`;
  return html`<rect x="${x(s.from).toFixed(1)}" y="${y + (s.state === 'running' ? 2 : 6)}" width="${Math.max(x(to) - x(s.from), 2).toFixed(1)}" height="${s.state === 'running' ? 14 : 6}" fill="${fill}" class="tl-${s.state}" rx="2"><title>${title}</title></rect>${
    s.endedBy === 'INTERRUPT' ? html`<text x="${x(to).toFixed(1)}" y="${y + 13}" class="tl-interrupt">✕<title>interrupted: runs again, no retry used</title></text>` : ''
  }`;
})}
</g>`;
  });
  const height = 24 + rows.length * rowHeight;
  return html`<svg class="timeline" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="attempts over time">
<text x="${label}" y="11" class="tl-axis">${new Date(start).toISOString().slice(11, 19)}</text>
<text x="${width - 10}" y="11" class="tl-axis" text-anchor="end">+${duration(span)}</text>
${bars}
</svg>`;
}

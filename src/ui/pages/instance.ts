// The CLI's own rule for a command a person pastes (quoted words, a --payload placeholder, --store).
import { continueCommand } from '../../operate/continueCommand.ts';
import type { TaskInstanceEvent } from '../../../machines/index.ts';
import { msgFor } from '../../runtime/lifecycle/transitionMsg.ts';
import { ownerStatus } from '../../runtime/opening/ownerStatus.ts';
import type { Store, StoredRun, StoredTaskInstance } from '../../stores/index.ts';
import type { StoredTaskLogLine } from '../../stores/taskLogRecord.ts';
import { instanceActionsFor } from '../actions.ts';
import { badge, clock, duration, preview, time, truncate } from '../format.ts';
import { html, trusted, type SafeHtml } from '../html.ts';
import { actionForms, page, type PageContext } from '../layout.ts';
import { lifecycleSvg } from '../lifecycleChart.ts';
import { attemptsOf, axisLabel, timeAxis, timelineBar } from '../timeline.ts';
import { instanceHref, ownerLine, runHref, runLive } from './run.ts';

/** How much of a result or checkpoint the page shows. */
const PREVIEW_CHARS = 4000;
/** How many of an instance's log lines the page shows (the store keeps at most 1,000 per attempt). */
const LOG_LINES = 5000;

/** The instance's `ctx().log` lines, one block per attempt, the latest open. */
function logsByAttempt(lines: readonly StoredTaskLogLine[], current: number): SafeHtml {
  if (lines.length === 0) return html`<p class="muted small" data-testid="logs">No log lines (<code>ctx().log</code>) were stored for it.</p>`;
  const byAttempt = new Map<number, StoredTaskLogLine[]>();
  for (const line of lines) (byAttempt.get(line.attempt) ?? byAttempt.set(line.attempt, []).get(line.attempt)!).push(line);
  const last = Math.max(...byAttempt.keys(), current);
  return html`<div data-testid="logs">${[...byAttempt].map(
    ([attempt, own]) => html`<details class="log" data-attempt="${attempt}"${attempt === last ? ' open' : ''}><summary>attempt ${attempt} · ${own.length} line${own.length === 1 ? '' : 's'}</summary><pre class="value">${own.map(
      (line) => html`<span class="at">${new Date(line.at).toISOString().slice(11, 23)}</span> ${line.line}
`,
    )}</pre></details>`,
  )}${lines.length >= LOG_LINES ? html`<p class="muted small">(the first ${LOG_LINES} lines; <code>taskmachine logs</code> prints them all)</p>` : ''}</div>`;
}

/**
 * The stored instance with this key, and its latest result (found with a paged query, not the whole run).
 *
 * @example
 * ```ts
 * const found = await findInstance(store, 'nightly', 'score[3]'); found?.instance.state;
 * ```
 */
export async function findInstance(store: Store, runId: string, key: string): Promise<{ instance: StoredTaskInstance; result: unknown; hasResult: boolean } | undefined> {
  let cursor: string | undefined;
  do {
    const page = await store.queryTaskInstances(runId, { keyPrefix: key, withResults: true, limit: 200, ...(cursor ? { cursor } : {}) });
    const instance = page.instances.find((candidate) => candidate.key === key);
    if (instance !== undefined) return { instance, result: page.results?.get(key), hasResult: page.results?.has(key) ?? false };
    cursor = page.next;
  } while (cursor !== undefined);
  return undefined;
}

function valueBlock(value: unknown, testId: string): SafeHtml {
  const { text, cut } = truncate(preview(value), PREVIEW_CHARS);
  return html`<pre class="value" data-testid="${testId}">${text}</pre>${cut ? html`<p class="muted small">(cut to ${PREVIEW_CHARS} characters)</p>` : ''}`;
}

/**
 * The task-instance page: state and actions, what it waits for, error, result, checkpoint, attempts, transitions, lifecycle chart.
 *
 * @example
 * ```ts
 * send(res, 200, await instancePage(store, context, run, found));
 * ```
 */
export async function instancePage(store: Store, context: PageContext, run: StoredRun, found: NonNullable<Awaited<ReturnType<typeof findInstance>>>): Promise<SafeHtml> {
  const { base } = context;
  const { instance } = found;
  const now = Date.now();
  const [log, checkpoint, lease, lines] = await Promise.all([
    store.readTransitionLog(run.runId),
    store.loadCheckpoint(run.runId, instance.key),
    store.getLease(run.runId),
    store.readTaskLogs(run.runId, { key: instance.key, limit: LOG_LINES }),
  ]);
  const transitions = log.filter((t) => t.key === instance.key);
  const attempts = attemptsOf(transitions);
  const chart = trusted(await lifecycleSvg('task-instance', instance.state, transitions));
  const waits: SafeHtml[] = [];
  if (instance.state === 'queued') waits.push(html`<li>queued: its readiness gates run (it starts when every gate has passed and a slot is free)</li>`);
  if (instance.awaitsEvent) waits.push(html`<li>deferred until an event: <code>${continueCommand(run.runId, { key: instance.key, state: 'deferred' }, context.storeArgument ?? '')}</code> or “Send event” below</li>`);
  if (instance.parked) waits.push(html`<li>parked: waits for a manual resume (no timer moves it)</li>`);
  if (instance.timer) waits.push(html`<li>timer: <b>${instance.timer.action}</b> at ${time(instance.timer.deadline)} (${instance.timer.deadline > now ? `in ${duration(instance.timer.deadline - now)}` : 'due'})</li>`);
  const body = html`<section class="card">
<div class="head"><h1><code>${instance.key}</code> ${badge(instance.state)}</h1></div>
<dl class="facts"><dt>Task</dt><dd>${instance.taskId}${instance.mapIndex !== undefined ? html` <span class="muted">(map index ${instance.mapIndex})</span>` : ''}</dd>
<dt>Attempt</dt><dd>${instance.attempt} of ${instance.maxAttempts}${instance.interruptions > 0 ? html` · ${instance.interruptions} interrupted (of ${instance.maxInterruptions} allowed)` : ''}</dd>
<dt>Started</dt><dd>${time(instance.startedAt)}</dd><dt>Ended</dt><dd>${time(instance.endedAt)}</dd>
${instance.failureKind ? html`<dt>Failure kind</dt><dd>${instance.failureKind}</dd>` : ''}
${instance.manuallySetFrom ? html`<dt>Set by hand</dt><dd>from ${instance.manuallySetFrom}</dd>` : ''}
${instance.parentKey ? html`<dt>Called by</dt><dd><a href="${instanceHref(base, run.runId, instance.parentKey)}">${instance.parentKey}</a></dd>` : ''}
<dt>Run</dt><dd><a href="${runHref(base, run.runId)}">${run.runId}</a> ${badge(run.state)} · ${ownerLine(run, lease, now, context.storeArgument)}</dd></dl>
${waits.length ? html`<h3>Waiting for</h3><ul class="waits">${waits}</ul>` : ''}
</section>
<section class="card"><h2>Actions</h2>${actionForms(context, `${runHref(base, run.runId)}/actions`, instanceActionsFor(instance, context.readOnly), { key: instance.key })}</section>
${instance.error ? html`<section class="card"><h2>Error</h2><pre class="value error" data-testid="error">${instance.error.stack ?? `${instance.error.name}: ${instance.error.message}`}</pre></section>` : ''}
${found.hasResult ? html`<section class="card"><h2>Result</h2>${valueBlock(found.result, 'result')}</section>` : ''}
${checkpoint !== undefined || instance.resumeData !== undefined || instance.eventPayload !== undefined
  ? html`<section class="card"><h2>Checkpoint</h2>${checkpoint !== undefined ? html`<p class="muted small">saved ${time(checkpoint.savedAt)} with <code>ctx().checkpoint.save</code></p>${valueBlock(checkpoint.value, 'checkpoint')}` : ''}${
      instance.resumeData !== undefined ? html`<p class="muted small">resume data (the next run's <code>ctx().resumeData</code>)</p>${valueBlock(instance.resumeData, 'resume-data')}` : ''
    }${instance.eventPayload !== undefined ? html`<p class="muted small">event payload (<code>ctx().event</code>)</p>${valueBlock(instance.eventPayload, 'event-payload')}` : ''}</section>`
  : ''}
<section class="card"><h2>Attempts</h2>
${attempts.length === 0 ? html`<p class="muted">It has not run yet.</p>` : html`<div class="scroll"><table><thead><tr><th class="num">#</th><th>Started</th><th class="num">Duration</th><th>Ended as</th><th>By</th></tr></thead><tbody>${attempts.map(
  (a) => html`<tr><td class="num">${a.number}</td><td>${clock(a.startedAt)}</td><td class="num">${duration((a.endedAt ?? now) - a.startedAt)}</td><td>${badge(a.outcome)}</td><td><code>${a.event === 'INTERRUPT' ? 'INTERRUPT (no retry used)' : (a.event ?? '')}</code></td></tr>`,
)}</tbody></table></div>`}
${transitions.length > 0 ? html`<div class="tl-single">${axisLabel(timeAxis([transitions], now))}${timelineBar(instance.key, transitions, timeAxis([transitions], now)!, now)}</div>` : ''}
<h3>Logs</h3>${logsByAttempt(lines, instance.attempt)}
</section>
<section class="card"><h2>Transitions</h2>
<div class="scroll"><table class="transitions"><thead><tr><th class="num">#</th><th>At</th><th>From</th><th>To</th><th>Event</th><th>msg</th></tr></thead><tbody>${transitions.map((t) => {
    const msg = msgFor({ type: t.event, ...(t.event === 'SET_STATE' ? { state: t.to } : {}) } as TaskInstanceEvent, t.from, t.to);
    return html`<tr><td class="num">${t.seq}</td><td>${clock(t.at)}</td><td>${badge(t.from)}</td><td>${badge(t.to)}</td><td><code>${t.event}</code></td><td>${msg ?? ''}</td></tr>`;
  })}</tbody></table></div></section>
<section class="card"><h2>Lifecycle</h2><p class="muted small">The task-instance machine; its current state is outlined, the transitions it took are drawn in blue.</p><div class="chart" id="lifecycle">${chart}</div></section>`;
  return page({ ...context, live: runLive(base, run, log, ownerStatus(lease, now).status) }, instance.key, [{ href: runHref(base, run.runId), text: run.runId }, { text: instance.key }], body);
}

import { isTaskInstanceState, type TaskInstanceState } from '../../../machines/index.ts';
import { ownerStatus, type OwnerStatus } from '../../runtime/opening/ownerStatus.ts';
import { shellWord } from '../../shellWord.ts';
import type { Store, StoredRun, StoredTaskInstance, StoredTransition } from '../../stores/index.ts';
import { runActionsFor } from '../actions.ts';
import { badge, clock, cutAtWord, duration, firstLine, time } from '../format.ts';
import { graphTasks, runGraphSvg, shapeEdges, taskSummary } from '../graph.ts';
import { html, trusted, type SafeHtml } from '../html.ts';
import { actionForms, countsBar, countsLegend, page, type PageContext } from '../layout.ts';
import { lifecycleSvg } from '../lifecycleChart.ts';
import { axisLabel, timeAxis, timelineBar, type TimeAxis } from '../timeline.ts';

/**
 * Task instances per page of a run's instance list.
 *
 * @example
 * ```ts
 * store.queryTaskInstances(runId, { limit: INSTANCES_PER_PAGE });
 * ```
 */
export const INSTANCES_PER_PAGE = 100;

/** How much of a failure's first line the Failures card shows (the instance's page shows it whole). */
const FAILURE_CHARS = 160;

/**
 * The filters of a run page's instance list, from its query string.
 *
 * @example
 * ```ts
 * const query: RunQuery = { task: 'score', state: 'failed', cursor: undefined };
 * ```
 */
export interface RunQuery {
  readonly task: string | undefined;
  readonly state: TaskInstanceState | undefined;
  readonly cursor: string | undefined;
}

/**
 * @example
 * ```ts
 * runQuery(new URLSearchParams('task=score&state=failed')); // { task: 'score', state: 'failed', cursor: undefined }
 * ```
 */
export function runQuery(params: URLSearchParams): RunQuery {
  const state = params.get('state') ?? '';
  return { task: params.get('task') || undefined, state: isTaskInstanceState(state) ? state : undefined, cursor: params.get('cursor') || undefined };
}

/**
 * Where a run's pages live.
 *
 * @example
 * ```ts
 * runHref('', 'nightly 1'); // '/runs/nightly%201'
 * ```
 */
export function runHref(base: string, runId: string): string {
  return `${base}/runs/${encodeURIComponent(runId)}`;
}

/**
 * Where a task instance's page lives.
 *
 * @example
 * ```ts
 * instanceHref('', 'nightly', 'score[3]'); // '/runs/nightly/tasks/score%5B3%5D'
 * ```
 */
export function instanceHref(base: string, runId: string, key: string): string {
  return `${runHref(base, runId)}/tasks/${encodeURIComponent(key)}`;
}

/**
 * What the live feed of a run compares: its last transition, its state, its last write and whether
 * a process drives it. The owner's status is there because a driver that dies (SIGKILL, a lost
 * machine) writes nothing: only the lease expiring or the pid being gone tells, and the page must
 * stop saying "driven by pid …" then.
 *
 * @example
 * ```ts
 * runSignature(run, 42, ownerStatus(await store.getLease(run.runId), Date.now()).status); // '42:running:1764668001000:live'
 * ```
 */
export function runSignature(run: Pick<StoredRun, 'state' | 'updatedAt'>, lastSeq: number, owner: OwnerStatus['status']): string {
  return `${lastSeq}:${run.state}:${run.updatedAt}:${owner}`;
}

/**
 * The live-feed URL of a run's pages, with the signature the page was rendered at.
 *
 * @example
 * ```ts
 * runLive('', run, log, 'live'); // '/runs/nightly/events?since=42%3Arunning%3A…%3Alive'
 * ```
 */
export function runLive(base: string, run: StoredRun, log: readonly StoredTransition[], owner: OwnerStatus['status']): string {
  return `${runHref(base, run.runId)}/events?since=${encodeURIComponent(runSignature(run, log.at(-1)?.seq ?? 0, owner))}`;
}

/**
 * The run's owner, as a line; for an orphaned run, the command that takes it over, ready to paste
 * (`storeArgument` as in {@link PageContext}).
 *
 * @example
 * ```ts
 * html`<dd>${ownerLine(run, await store.getLease(run.runId), Date.now(), ' --store runs.db')}</dd>`
 * ```
 */
export function ownerLine(run: StoredRun, lease: Awaited<ReturnType<Store['getLease']>>, now: number, storeArgument = ''): SafeHtml {
  const owner = ownerStatus(lease, now);
  switch (owner.status) {
    case 'live':
      return html`<span class="owner">driven by pid ${owner.lease.owner.pid} on ${owner.lease.owner.host}</span>`;
    case 'orphaned':
      return html`<span class="orphaned">orphaned (${owner.why}): <code>taskmachine resume ${shellWord(run.runId)}${storeArgument}</code> takes it over</span>`;
    case 'released':
      return html`<span class="muted">no process drives it</span>`;
    case 'none':
      return html`<span class="muted">never driven by a process</span>`;
  }
}

/**
 * The run page: header and actions, counts, graph, failures first, instances with their timeline, the flow-run chart.
 *
 * @example
 * ```ts
 * send(res, 200, await runPage(store, context, run, runQuery(url.searchParams)));
 * ```
 */
export async function runPage(store: Store, context: PageContext, run: StoredRun, query: RunQuery): Promise<SafeHtml> {
  const { base } = context;
  const now = Date.now();
  const href = runHref(base, run.runId);
  const [shape, counts, lease, failures, listed, log] = await Promise.all([
    store.getRunShape(run.runId),
    store.countTaskInstances(run.runId),
    store.getLease(run.runId),
    store.queryTaskInstances(run.runId, { states: ['failed', 'upstream_failed'], limit: 20 }),
    store.queryTaskInstances(run.runId, {
      ...(query.task ? { taskId: query.task } : {}),
      ...(query.state ? { states: [query.state] } : {}),
      limit: INSTANCES_PER_PAGE,
      ...(query.cursor ? { cursor: query.cursor } : {}),
    }),
    store.readTransitionLog(run.runId),
  ]);
  const tasks = graphTasks(run.taskIds, counts, shape);
  const filterLink = (changes: Partial<Record<'task' | 'state', string | undefined>>) => {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries({ task: query.task, state: query.state, ...changes })) if (value) params.set(name, value);
    const text = params.toString();
    return `${href}${text ? `?${text}` : ''}#instances`;
  };
  const graph = tasks.length > 0 ? trusted(await runGraphSvg(tasks, (taskId) => filterLink({ task: taskId, state: undefined }), shapeEdges(shape))) : html`<p class="muted">No tasks recorded yet.</p>`;
  const byKey = new Map<string, StoredTransition[]>();
  const pageKeys = new Set(listed.instances.map((instance) => instance.key));
  for (const t of log) if (pageKeys.has(t.key)) (byKey.get(t.key) ?? byKey.set(t.key, []).get(t.key)!).push(t);
  const axis = timeAxis([...byKey.values()], now);
  const started = run.startedAt ?? run.createdAt;
  const ended = run.state === 'success' || run.state === 'failed' ? (run.endedAt ?? run.updatedAt) : now;
  const chart = trusted(await lifecycleSvg('flow-run', run.state === 'running' ? 'running.active' : run.state));
  const failureRows = failures.instances.map((instance) => {
    const line = firstLine(instance.error);
    // A first line can be a paragraph: the card shows its start, the instance's page all of it.
    return html`<li><a href="${instanceHref(base, run.runId, instance.key)}">${instance.key}</a> ${badge(instance.state)} <span class="err"${line.length > FAILURE_CHARS ? html` title="${line}"` : ''}>${cutAtWord(line, FAILURE_CHARS) || (instance.state === 'upstream_failed' ? 'an upstream task failed' : '')}</span></li>`;
  });
  // The card lists both failing states: one link per state it has (the list filters by one state).
  const allFailures = (['failed', 'upstream_failed'] as const)
    .filter((state) => (counts.byState[state] ?? 0) > 0)
    .map((state) => html`<a href="${filterLink({ state, task: undefined })}">all ${counts.byState[state]} ${state.replace('_', ' ')} →</a>`);
  const body = html`<section class="card run-head">
<div class="head"><h1>${run.runId} ${badge(run.state)}${run.reason ? html` <small class="muted">${run.reason}</small>` : ''}</h1>
${actionForms(context, `${href}/actions`, runActionsFor(run, context.readOnly))}</div>
<dl class="facts"><dt>Flow</dt><dd>${run.flowId}</dd><dt>Started</dt><dd>${time(started)}</dd><dt>Duration</dt><dd>${duration(ended - started)}</dd><dt>Owner</dt><dd>${ownerLine(run, lease, now, context.storeArgument)}</dd>${
    run.labels?.flowFile ? html`<dt>Flow file</dt><dd><code>${run.labels.flowFile}</code></dd>` : ''
  }</dl>
<div class="counts-row">${countsBar(counts.byState, counts.total)} <span class="muted">${counts.total} task instances</span></div>
${countsLegend(counts.byState, (state) => filterLink({ state, task: undefined }))}
</section>
${failures.instances.length > 0 ? html`<section class="card failures"><h2>Failures</h2><ul>${failureRows}</ul>${failures.next ? html`<p class="all-failures">${allFailures}</p>` : ''}</section>` : ''}
<section class="card"><h2>Task graph</h2>
<div class="graph" id="graph">${graph}</div>
<ul class="task-summaries">${tasks.filter((task) => task.total > 1).map((task) => html`<li><a href="${filterLink({ task: task.taskId, state: undefined })}">${taskSummary(task)}</a></li>`)}</ul>
${shape === undefined ? html`<p class="muted small">This run was stored without its shape (before schema 4): its tasks are shown in order, without their dependencies.</p>` : ''}
</section>
<section class="card" id="instances"><div class="head"><h2>Task instances${query.task ? html` of <code>${query.task}</code>` : ''}${query.state ? html` in ${badge(query.state)}` : ''}</h2>${
    query.task || query.state ? html`<a href="${filterLink({ task: undefined, state: undefined })}">show all</a>` : ''
  }</div>
${listed.instances.length === 0
  ? html`<p class="empty">${emptyInstances(query, tasks.map((task) => task.taskId))}</p>`
  : html`<div class="scroll"><table class="instances"><thead><tr><th>Task instance</th><th>State</th><th class="num wide-only">Attempt</th><th class="wide-only">Started</th><th class="num">Duration</th><th class="tl-col">${axisLabel(axis)}</th></tr></thead>
<tbody>${listed.instances.map((instance) => instanceRow(base, run.runId, instance, now, axis, byKey.get(instance.key) ?? []))}</tbody></table></div>
<p class="legend small muted">Timeline: solid bars are attempts, coloured by how they ended; thin ones are waits (queued, retry delay, deferral, checkpoint); a red tick is an interruption.</p>`}
${listed.next ? html`<nav class="pager"><a href="${href}?${new URLSearchParams({ ...(query.task ? { task: query.task } : {}), ...(query.state ? { state: query.state } : {}), cursor: listed.next }).toString()}#instances">next ${INSTANCES_PER_PAGE} →</a></nav>` : ''}
</section>
<section class="card"><details><summary><h2>Flow-run lifecycle</h2></summary><div class="chart">${chart}</div></details></section>`;
  return page({ ...context, live: runLive(base, run, log, ownerStatus(lease, now).status) }, run.runId, [{ text: run.runId }], body);
}

/** Why the instance list is empty, so an empty table is never left unexplained. */
function emptyInstances(query: RunQuery, taskIds: readonly string[]): SafeHtml {
  if (query.task && !taskIds.includes(query.task)) return html`This run has no task <code>${query.task}</code>.`;
  const which = html`${query.task ? html` of <code>${query.task}</code>` : ''}${query.state ? html` in ${badge(query.state)}` : ''}`;
  if (query.cursor) return html`No more task instances${which}: this is past the last page.`;
  if (query.task && !query.state) return html`No task instances${which} yet: a task gets its instances when it is scheduled (a mapped task when its input is known).`;
  return html`No task instances${which}${query.task || query.state ? '' : ' yet'}.`;
}

function instanceRow(base: string, runId: string, instance: StoredTaskInstance, now: number, axis: TimeAxis | undefined, transitions: readonly StoredTransition[]): SafeHtml {
  const end = instance.endedAt ?? (instance.startedAt !== undefined && instance.state !== 'success' ? now : undefined);
  return html`<tr data-key="${instance.key}" data-state="${instance.state}">
<td class="id"><a href="${instanceHref(base, runId, instance.key)}">${instance.key}</a></td>
<td>${badge(instance.state)}</td>
<td class="num wide-only">${instance.attempt}/${instance.maxAttempts}</td>
<td class="wide-only">${clock(instance.startedAt)}</td>
<td class="num">${instance.startedAt !== undefined && end !== undefined ? duration(end - instance.startedAt) : '—'}</td>
<td class="tl-col">${axis !== undefined && transitions.length > 0 ? timelineBar(instance.key, transitions, axis, now) : ''}${instance.error ? html`<div class="err" title="${firstLine(instance.error)}">${firstLine(instance.error)}</div>` : ''}</td>
</tr>`;
}

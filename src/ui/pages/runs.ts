import { createHash } from 'node:crypto';
import { FlowRunState } from '../../../machines/index.ts';
import { ownerStatus } from '../../runtime/opening/ownerStatus.ts';
import type { RunSummary, Store } from '../../stores/index.ts';
import { badge, duration, time } from '../format.ts';
import { html, type SafeHtml } from '../html.ts';
import { countsBar, page, type PageContext } from '../layout.ts';

/**
 * Runs per page of the runs list.
 *
 * @example
 * ```ts
 * store.listRuns({ limit: page * RUNS_PER_PAGE + 1 });
 * ```
 */
export const RUNS_PER_PAGE = 50;

/**
 * The filters and page of the runs list, from its query string.
 *
 * @example
 * ```ts
 * const query: RunsQuery = { flow: 'etl', state: 'failed', page: 2 };
 * ```
 */
export interface RunsQuery {
  readonly flow: string | undefined;
  readonly state: FlowRunState | undefined;
  /** 1-based. */
  readonly page: number;
}

/**
 * @example
 * ```ts
 * runsQuery(new URLSearchParams('flow=etl&page=2')); // { flow: 'etl', state: undefined, page: 2 }
 * ```
 */
export function runsQuery(params: URLSearchParams): RunsQuery {
  const state = params.get('state') ?? '';
  const pageNumber = Number(params.get('page') ?? '1');
  return {
    flow: params.get('flow') || undefined,
    state: Object.hasOwn(FlowRunState, state) ? (state as FlowRunState) : undefined,
    page: Number.isSafeInteger(pageNumber) && pageNumber >= 1 ? pageNumber : 1,
  };
}

function total(run: RunSummary): number {
  return Object.values(run.taskCounts).reduce((sum, n) => sum + (n ?? 0), 0);
}

/**
 * A fingerprint of what the runs list shows (for live updates: the page reloads when it changes),
 * the owner's status of each run included: a driver that dies writes nothing, so only its lease
 * expiring or its pid being gone turns the row's `live` into `orphaned`.
 *
 * @example
 * ```ts
 * const since = await runsSignature(store, query); // 16 hex characters
 * ```
 */
export async function runsSignature(store: Store, query: RunsQuery): Promise<string> {
  const runs = await store.listRuns({ flowId: query.flow, state: query.state, limit: query.page * RUNS_PER_PAGE });
  const now = Date.now();
  const text = runs.map((run) => `${run.runId}:${run.state}:${run.updatedAt}:${ownerStatus(run.lease, now).status}:${JSON.stringify(run.taskCounts)}`).join('|');
  return createHash('sha1').update(text).digest('hex').slice(0, 16);
}

/**
 * The runs list: newest first, filtered by flow and state, a page at a time.
 *
 * @example
 * ```ts
 * send(res, 200, await runsPage(store, context, runsQuery(url.searchParams)));
 * ```
 */
export async function runsPage(store: Store, context: PageContext, query: RunsQuery): Promise<SafeHtml> {
  const { base } = context;
  const upTo = query.page * RUNS_PER_PAGE;
  const listed = await store.listRuns({ flowId: query.flow, state: query.state, limit: upTo + 1 });
  const runs = listed.slice(upTo - RUNS_PER_PAGE, upTo);
  const more = listed.length > upTo;
  // Flows to suggest: those of this page (listing every run's flow would count every run's tasks).
  const flows = [...new Set(runs.map((run) => run.flowId))].sort();
  const now = Date.now();
  const link = (changes: Partial<Record<'flow' | 'state' | 'page', string | undefined>>) => {
    const params = new URLSearchParams();
    const merged = { flow: query.flow, state: query.state, page: String(query.page), ...changes };
    for (const [name, value] of Object.entries(merged)) if (value !== undefined && value !== '' && !(name === 'page' && value === '1')) params.set(name, value);
    const text = params.toString();
    return `${base}/${text ? `?${text}` : ''}`;
  };
  const rows = runs.map((run) => {
    const owner = ownerStatus(run.lease, now);
    const started = run.startedAt ?? run.createdAt;
    const ended = run.state === 'success' || run.state === 'failed' ? (run.endedAt ?? run.updatedAt) : now;
    return html`<tr data-run="${run.runId}" data-state="${run.state}">
<td class="id"><a href="${base}/runs/${encodeURIComponent(run.runId)}">${run.runId}</a><small class="muted narrow-only">${run.flowId}</small></td>
<td class="wide-only">${run.flowId}</td>
<td>${badge(run.state)}${run.reason ? html` <small class="muted">${run.reason}</small>` : ''}${
      owner.status === 'orphaned' ? html` <span class="orphaned" title="its process stopped without letting go (${owner.why}); 'taskmachine resume' takes it over">orphaned</span>` : ''
    }${owner.status === 'live' ? html` <span class="owner" title="driven by pid ${owner.lease.owner.pid} on ${owner.lease.owner.host}">live</span>` : ''}</td>
<td class="wide-only">${time(started)}</td>
<td class="num">${duration(ended - started)}</td>
<td class="counts">${countsBar(run.taskCounts, total(run))}<small class="muted">${total(run)}</small></td>
</tr>`;
  });
  const body = html`<section class="card">
<div class="head"><h1>Runs</h1>
<form class="filters" method="get" action="${base}/">
<label>Flow <input name="flow" list="flows" value="${query.flow ?? ''}" placeholder="all" size="14"><datalist id="flows">${flows.map((flow) => html`<option value="${flow}"></option>`)}</datalist></label>
<label>State <select name="state"><option value="">all</option>${Object.values(FlowRunState).map((state) => html`<option${state === query.state ? ' selected' : ''}>${state}</option>`)}</select></label>
<button type="submit">Filter</button>
</form></div>
${runs.length === 0
  ? query.page > 1
    ? // (Past the last page the store may well hold runs: say so, not that it is empty.)
      html`<p class="empty">No runs on page ${query.page}: the list${query.flow || query.state ? ' with these filters' : ''} ends before it. <a href="${link({ page: '1' })}">Back to the first page</a>.</p>`
    : html`<p class="empty">No runs${query.flow || query.state ? ' match these filters' : ' in this store yet'}. Start one with <code>taskmachine run flows/etl.ts</code>.</p>`
  : html`<div class="scroll"><table class="runs">
<thead><tr><th>Run</th><th class="wide-only">Flow</th><th>State</th><th class="wide-only">Started</th><th class="num">Duration</th><th>Tasks</th></tr></thead>
<tbody>${rows}</tbody></table></div>`}
<nav class="pager">${query.page > 1 && runs.length > 0 ? html`<a href="${link({ page: String(query.page - 1) })}">← newer</a>` : ''}<span class="muted">page ${query.page}</span>${
    more ? html`<a href="${link({ page: String(query.page + 1) })}">older →</a>` : ''
  }</nav>
</section>`;
  const liveParams = new URLSearchParams({ ...(query.flow ? { flow: query.flow } : {}), ...(query.state ? { state: query.state } : {}), page: String(query.page), since: await runsSignature(store, query) });
  return page({ ...context, live: `${base}/events?${liveParams}` }, 'Runs', [], body);
}

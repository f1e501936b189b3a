import { allTaskInstanceStates, type TaskInstanceState } from '../../machines/index.ts';
import type { ActionAvailability } from './actions.ts';
import { stateStyle } from './format.ts';
import { html, type HtmlValue, type SafeHtml } from './html.ts';

/**
 * What every page needs to know about the request it answers.
 *
 * @example
 * ```ts
 * const context: PageContext = { base: '', csrf, readOnly: false, flash: undefined };
 * ```
 */
export interface PageContext {
  /** The path the UI is mounted at (`''` at the root). */
  readonly base: string;
  /** The anti-forgery token every form carries. */
  readonly csrf: string;
  readonly readOnly: boolean;
  /** A one-line result of the last action (from the redirect after it). */
  readonly flash: { readonly ok: boolean; readonly text: string } | undefined;
  /** Appended to the commands a page prints so they find the run when pasted, e.g. ` --store runs.db` (`''`: the default store). */
  readonly storeArgument?: string;
  /** The URL of the server-sent events that say when this page's data changed (none: no live updates). */
  readonly live?: string;
}

/**
 * A full page: the header, the flash line, the content.
 *
 * @example
 * ```ts
 * send(res, 200, page(context, 'Runs', [], html`<section>…</section>`));
 * ```
 */
export function page(context: PageContext, title: string, crumbs: readonly { href?: string; text: string }[], body: HtmlValue): SafeHtml {
  const { base } = context;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · taskmachine</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${base}/static/ui.css">
<script src="${base}/static/ui.js" defer></script>
</head>
<body>
<header class="top">
<a class="brand" href="${base}/">taskmachine</a>
<nav class="crumbs">${crumbs.map((crumb) => (crumb.href ? html`<span>/</span><a href="${crumb.href}" title="${crumb.text}">${crumb.text}</a>` : html`<span>/</span><strong title="${crumb.text}">${crumb.text}</strong>`))}</nav>
${context.live ? html`<span class="live" id="live" data-src="${context.live}" title="updates live while the run changes">● live</span>` : ''}
${context.readOnly ? html`<span class="readonly">read-only</span>` : ''}
</header>
<main id="main">
${context.flash ? html`<p class="flash ${context.flash.ok ? 'ok' : 'bad'}" role="status">${context.flash.text}</p>` : ''}
${body}
</main>
</body>
</html>
`;
}

/**
 * Counts per state as one stacked bar (the widths are shares of `total`), states in lifecycle order.
 *
 * @example
 * ```ts
 * countsBar({ success: 495, failed: 5 }, 500);
 * ```
 */
export function countsBar(byState: Readonly<Partial<Record<TaskInstanceState, number>>>, total: number): SafeHtml {
  if (total === 0) return html`<span class="muted">no tasks yet</span>`;
  const parts = allTaskInstanceStates.filter((state) => (byState[state] ?? 0) > 0);
  return html`<span class="bar" title="${parts.map((state) => `${byState[state]} ${state}`).join(', ')}">${parts.map(
    (state) => html`<span class="seg" data-state="${state}" style="width:${((100 * byState[state]!) / total).toFixed(2)}%;${stateStyle(state)}"></span>`,
  )}</span>`;
}

/**
 * The states present with their counts, as small coloured chips.
 *
 * @example
 * ```ts
 * countsLegend(counts.byState, (state) => `?state=${state}`);
 * ```
 */
export function countsLegend(byState: Readonly<Partial<Record<TaskInstanceState, number>>>, link?: (state: TaskInstanceState) => string): SafeHtml {
  const parts = allTaskInstanceStates.filter((state) => (byState[state] ?? 0) > 0);
  return html`<span class="chips">${parts.map((state) => {
    const chip = html`<span class="chip"><i style="${stateStyle(state)}"></i>${state.replaceAll('_', ' ')} <b>${byState[state]}</b></span>`;
    return link ? html`<a href="${link(state)}">${chip}</a>` : chip;
  })}</span>`;
}

/**
 * Action buttons: a POST form each (with the anti-forgery token); an action the machine refuses is
 * a disabled button with the machine's reason next to it.
 *
 * @example
 * ```ts
 * actionForms(context, '/runs/nightly/actions', instanceActionsFor(instance, false), { key: instance.key });
 * ```
 */
export function actionForms(context: PageContext, postTo: string, actions: readonly ActionAvailability[], fields: Readonly<Record<string, string>> = {}): SafeHtml {
  return html`<div class="actions">${actions.map((action) => {
    const hidden = html`<input type="hidden" name="_csrf" value="${context.csrf}"><input type="hidden" name="action" value="${action.action}">${Object.entries(fields).map(
      ([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`,
    )}`;
    const payload =
      action.allowed && (action.action === 'send-event' || action.action === 'resume-task')
        ? html`<input class="payload" name="payload" placeholder="payload (JSON, optional)" aria-label="payload for ${action.label}">`
        : '';
    const danger = action.action === 'cancel' || action.action.startsWith('set-') || action.action.startsWith('clear');
    return html`<form method="post" action="${postTo}" class="action${action.allowed ? '' : ' disabled'}" data-action="${action.action}"${danger && action.allowed ? html` data-confirm="${action.label}?"` : ''}>
${hidden}${payload}<button type="submit"${action.allowed ? '' : html` disabled aria-describedby="why-${action.action}"`}>${action.label}</button>${
      action.allowed ? '' : html`<small class="why" id="why-${action.action}">${action.reason}</small>`
    }</form>`;
  })}</div>`;
}

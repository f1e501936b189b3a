import { flowRunMachine, taskInstanceMachine } from '../../machines/index.ts';
import { chartId } from '../viz/chart.ts';
import { dotToSvg, toDot } from '../viz/index.ts';
import { escapeHtml } from './html.ts';
import { stripXmlProlog } from './graph.ts';

const rendered = new Map<string, Promise<string>>();

/** The machine's chart as SVG, rendered once per process (from `toDot`, the same chart `taskmachine viz` draws). */
function baseSvg(which: 'task-instance' | 'flow-run'): Promise<string> {
  let svg = rendered.get(which);
  if (svg === undefined) {
    svg = dotToSvg(toDot(which === 'task-instance' ? taskInstanceMachine : flowRunMachine)).then(stripXmlProlog);
    rendered.set(which, svg);
  }
  return svg;
}

/**
 * A step of the path an instance took: the states it went between.
 *
 * @example
 * ```ts
 * const step: PathStep = { from: 'running', to: 'failed', event: 'FAIL' };
 * ```
 */
export interface PathStep {
  readonly from: string;
  readonly to: string;
  /** The event that moved it (edges are told apart by it: `FAIL` and `INTERRUPT` both go running → failed). */
  readonly event?: string;
}

/**
 * The lifecycle chart with `current` highlighted (class `tm-current` on its node) and every edge
 * the instance took marked (class `tm-path`, with how many times in its tooltip). Graphviz names a
 * node's group by its title (the state's chart id) and an edge's by `from->to`; states are matched
 * on those titles, so nothing of the chart is re-encoded here.
 *
 * @example
 * ```ts
 * const svg = await lifecycleSvg('task-instance', instance.state, transitions); // StoredTransition has from, to, event
 * ```
 */
export async function lifecycleSvg(which: 'task-instance' | 'flow-run', current: string, path: readonly PathStep[] = []): Promise<string> {
  const svg = await baseSvg(which);
  const currentId = chartId(current);
  const taken = new Map<string, number>();
  for (const step of path) {
    const title = `${chartId(step.from)}->${chartId(step.to)} ${step.event ?? '*'}`;
    taken.set(title, (taken.get(title) ?? 0) + 1);
  }
  const visited = new Set(path.flatMap((step) => [chartId(step.from), chartId(step.to)]));
  return svg.replace(/<g id="([^"]+)" class="(node|edge|cluster)">\s*<title>([^<]*)<\/title>([\s\S]*?<\/g>)/g, (_whole, id: string, kind: string, rawTitle: string, rest: string) => {
    const title = rawTitle.replace(/&#45;/g, '-').replace(/&gt;/g, '>').replace(/&lt;/g, '<').replace(/&amp;/g, '&');
    const classes = [kind];
    if (kind === 'node' && title === currentId) classes.push('tm-current');
    if (kind === 'node' && visited.has(title)) classes.push('tm-visited');
    if (kind === 'cluster' && title === `cluster_${currentId}`) classes.push('tm-current');
    // An edge's label starts with its event type (`FAIL [canRetryFailedAttempt]`).
    const event = kind === 'edge' ? /<text[^>]*>([A-Z_]+)/.exec(rest)?.[1] : undefined;
    const times = kind === 'edge' ? (taken.get(`${title} ${event}`) ?? taken.get(`${title} *`)) : undefined;
    if (times !== undefined) classes.push('tm-path');
    const tooltip = times !== undefined ? `<title>${escapeHtml(`${title.replace('->', ' → ')} ${event ?? ''} (taken ${times}×)`)}</title>` : `<title>${rawTitle}</title>`;
    return `<g id="${id}" class="${classes.join(' ')}" data-title="${escapeHtml(title)}">\n${tooltip}${rest}`;
  });
}

import { stateTextHex, stateHex } from '../viz/index.ts';
import { isTaskInstanceState, type TaskInstanceState } from '../../machines/index.ts';
import { html, type SafeHtml } from './html.ts';

/**
 * A duration in ms as people read it: `850 ms`, `4.2 s`, `3 min 12 s`, `2 h 5 min`.
 *
 * @example
 * ```ts
 * duration(192_000); // '3 min 12 s'
 * ```
 */
export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/**
 * An epoch-ms time as ISO text without the `T` and zone (UTC), in a `<time>` element.
 *
 * @example
 * ```ts
 * html`<td>${time(run.startedAt)}</td>`
 * ```
 */
export function time(at: number | undefined): SafeHtml {
  if (at === undefined) return html`<span class="muted">—</span>`;
  const iso = new Date(at).toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace('T', ' ')} UTC</time>`;
}

/**
 * An epoch-ms time of day (`09:33:21.123`, UTC), the full date in its tooltip.
 *
 * @example
 * ```ts
 * clock(Date.UTC(2026, 11, 2, 9, 33, 21, 123)); // <time …>09:33:21.123</time>
 * ```
 */
export function clock(at: number | undefined): SafeHtml {
  if (at === undefined) return html`<span class="muted">—</span>`;
  const iso = new Date(at).toISOString();
  return html`<time datetime="${iso}" title="${iso}">${iso.slice(11, 23)}</time>`;
}

/**
 * The colour pair of a state (task-instance states; a run's states map to the same palette).
 *
 * @example
 * ```ts
 * stateStyle('failed'); // 'background:#ff0000;color:#ffffff'
 * ```
 */
export function stateStyle(state: string): string {
  const ti: TaskInstanceState | undefined = isTaskInstanceState(state) ? state : state === 'queued' ? 'queued' : undefined;
  if (ti === undefined) return '';
  return `background:${stateHex(ti)};color:${stateTextHex(ti)}`;
}

/**
 * A state as a coloured badge.
 *
 * @example
 * ```ts
 * html`<td>${badge(instance.state)}</td>`
 * ```
 */
export function badge(state: string): SafeHtml {
  return html`<span class="badge" data-state="${state}" style="${stateStyle(state)}">${state.replaceAll('_', ' ')}</span>`;
}

/**
 * Text cut to `max` characters (with an ellipsis), and whether it was cut.
 *
 * @example
 * ```ts
 * truncate('abcdef', 3); // { text: 'abc…', cut: true }
 * ```
 */
export function truncate(text: string, max: number): { text: string; cut: boolean } {
  return text.length <= max ? { text, cut: false } : { text: `${text.slice(0, max)}…`, cut: true };
}

/**
 * `text` cut to at most `max` characters at a word boundary, with `…` (a cut mid-word reads as a
 * different word; a word longer than `max` is cut where it must be).
 *
 * @example
 * ```ts
 * cutAtWord('cleared score[1], score[2]', 20); // 'cleared score[1],…'
 * ```
 */
export function cutAtWord(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = text.slice(0, max - 1);
  const space = head.lastIndexOf(' ');
  return `${space > max / 2 ? head.slice(0, space) : head}…`;
}

/**
 * Any value as readable text: strings as they are, the rest as indented JSON (Dates, Maps, BigInts readable).
 *
 * @example
 * ```ts
 * preview(new Map([['a', 1n]])); // '{\n  "a": "1n"\n}'
 * ```
 */
export function preview(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(
      value,
      (_key, v: unknown) => {
        if (typeof v === 'bigint') return `${v}n`;
        if (v instanceof Map) return Object.fromEntries(v);
        if (v instanceof Set) return [...v];
        if (v instanceof Error) return { name: v.name, message: v.message };
        return v;
      },
      2,
    );
  } catch {
    return String(value);
  }
}

/**
 * The first line of an error's message.
 *
 * @example
 * ```ts
 * firstLine(new TypeError('bad row\nmore')); // 'TypeError: bad row'
 * ```
 */
export function firstLine(error: Error | undefined): string {
  if (error === undefined) return '';
  return `${error.name && error.name !== 'Error' ? `${error.name}: ` : ''}${error.message.split('\n')[0] ?? ''}`;
}

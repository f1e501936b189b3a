/**
 * HTML that is safe to send: built only by {@link html}, which escapes every value it is given
 * unless that value is itself `SafeHtml`. Everything the UI renders goes through it, so nothing
 * read from the store (a task result holding `<script>`, a key, an error message) can become markup.
 *
 * @example
 * ```ts
 * const cell: SafeHtml = html`<td>${value}</td>`; String(cell);
 * ```
 */
export class SafeHtml {
  readonly #text: string;
  constructor(text: string) {
    this.#text = text;
  }
  toString(): string {
    return this.#text;
  }
}

/**
 * What may be put into an {@link html} template.
 *
 * @example
 * ```ts
 * const parts: HtmlValue[] = ['text', 3, null, html`<br>`];
 * ```
 */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

const entities: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Text escaped for HTML content and (quoted) attribute values.
 *
 * @example
 * ```ts
 * escapeHtml('<b>"x"</b>'); // '&lt;b&gt;&quot;x&quot;&lt;/b&gt;'
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => entities[char]!);
}

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.toString();
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/**
 * A template tag that escapes every interpolated value (arrays are joined, `null`, `undefined`
 * and `false` render nothing, `SafeHtml` is kept as it is).
 *
 * @example
 * ```ts
 * html`<td>${instance.key}</td>`; // a key '<b>' renders as &lt;b&gt;
 * ```
 */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/**
 * Markup that is trusted as it is (made by this module's code, e.g. an SVG Graphviz rendered from escaped labels).
 *
 * @example
 * ```ts
 * trusted(await dotToSvg(dot)); // Graphviz's SVG, its labels escaped by Graphviz
 * ```
 */
export function trusted(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

// A batch's rows as one `jsonb` parameter of the write statement (see `Statements.write`): one
// native `JSON.stringify` of the rows, each an array in column order, instead of one array literal
// per column that node-postgres quotes element by element in JavaScript.

/** Lone UTF-16 surrogates: `JSON.stringify` writes them as `\udXXX` escapes, which jsonb refuses. */
const loneSurrogateEscape = /\\ud[89a-f]/i;

/**
 * Rows (each an array of column values) as one JSON text for a `jsonb` parameter: one native
 * `JSON.stringify` instead of node-postgres quoting every element of one array literal per column
 * (measured on 256-row statements: node's CPU 8–15 µs a row before, 3–5 after). A string with a
 * lone surrogate is stored with U+FFFD in its place, as node-postgres's UTF-8 encoding of an array
 * literal stores it (jsonb would refuse the whole statement).
 *
 * @example
 * ```ts
 * rowsJson([['extract', 1, null], ['load', 2, true]]); // '[["extract",1,null],["load",2,true]]'
 * ```
 */
export function rowsJson(rows: ReadonlyArray<readonly unknown[]>): string {
  const json = JSON.stringify(rows);
  if (!loneSurrogateEscape.test(json)) return json;
  return JSON.stringify(rows, (_, value: unknown) => (typeof value === 'string' ? value.toWellFormed() : value));
}

/**
 * The most characters of JSON one `jsonb` parameter of rows carries: PostgreSQL's jsonb holds at
 * most 256 MB, so a larger batch goes in several statements (a field tests may lower).
 *
 * @example
 * ```ts
 * jsonRowsLimit.chars = 2_000; // a test of a batch in parts (restore it after)
 * ```
 */
export const jsonRowsLimit = { chars: 32 * 2 ** 20 };

/**
 * {@link rowsJson} in as many parts as {@link jsonRowsLimit} asks for, in row order (one part for
 * any usual batch; a row longer than the limit on its own is a part of its own).
 *
 * @example
 * ```ts
 * for (const part of rowsJsonParts(rows)) await exec(client, sql.write({ ...none, instances: true }), [runId, part]);
 * ```
 */
export function rowsJsonParts(rows: ReadonlyArray<readonly unknown[]>): string[] {
  const whole = rowsJson(rows);
  if (whole.length <= jsonRowsLimit.chars) return [whole];
  const parts: string[] = [];
  let part: string[] = [];
  let chars = 2;
  for (const row of rows) {
    const text = rowsJson([row]).slice(1, -1);
    if (part.length > 0 && chars + text.length + 1 > jsonRowsLimit.chars) {
      parts.push(`[${part.join(',')}]`);
      part = [];
      chars = 2;
    }
    part.push(text);
    chars += text.length + 1;
  }
  if (part.length > 0) parts.push(`[${part.join(',')}]`);
  return parts;
}

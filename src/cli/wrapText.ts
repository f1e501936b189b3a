// Prose for a person in a terminal (status notes, hints): broken at spaces so that no line runs
// past 80 columns, where a terminal would otherwise break it mid-word. Commands to copy are not
// passed through it: a command stays on one line whatever its length. Widths are terminal columns
// (`string-width`, as the live view measures them: a wide character takes two).
import stringWidth from 'string-width';

/** The width prose is wrapped to: the narrowest terminal people use. */
export const PROSE_COLUMNS = 80;

/**
 * The words of `text` in lines of at most `width` columns: the first line starts with `first`,
 * the others with `rest`. A word longer than a line stays whole, on a line of its own.
 *
 * @example
 * ```ts
 * fill('Most attempts running at once', '  --concurrency <n>  ', ' '.repeat(21), 40);
 * // ['  --concurrency <n>  Most attempts', '                     running at once']
 * ```
 */
export function fill(text: string, first: string, rest: string, width: number = PROSE_COLUMNS): string[] {
  const lines: string[] = [];
  let current = first;
  let columns = stringWidth(first);
  let empty = true;
  for (const word of text.split(' ')) {
    if (word === '') continue;
    const cells = stringWidth(word);
    if (!empty && columns + 1 + cells > width) {
      lines.push(current);
      current = rest + word;
      columns = stringWidth(rest) + cells;
    } else {
      current = empty ? current + word : `${current} ${word}`;
      columns += empty ? cells : 1 + cells;
    }
    empty = false;
  }
  lines.push(current.trimEnd());
  return lines;
}

/**
 * `line` broken at spaces into lines of at most `width` columns; the lines after the first are
 * indented by the line's own indentation plus two spaces. A word longer than a line stays whole.
 *
 * @example
 * ```ts
 * wrapLine('  worker w refused it: its flow differs …', 30);
 * // '  worker w refused it: its\n    flow differs …'
 * ```
 */
export function wrapLine(line: string, width: number = PROSE_COLUMNS): string {
  if (stringWidth(line) <= width) return line;
  const indent = /^ */.exec(line)![0];
  return fill(line.slice(indent.length), indent, `${indent}  `, width).join('\n');
}

/**
 * Text of paragraphs (separated by blank lines) laid out again for `width`: the lines of a
 * paragraph are joined and broken anew. A line that starts with spaces or a list mark (`- `,
 * `1. `) keeps its own line (wrapped under itself).
 *
 * @example
 * ```ts
 * reflow('A sentence broken\nat 20 columns.', 80); // 'A sentence broken at 20 columns.'
 * ```
 */
export function reflow(text: string, width: number = PROSE_COLUMNS): string {
  const out: string[] = [];
  let paragraph: string[] = [];
  const flush = (): void => {
    if (paragraph.length > 0) out.push(...fill(paragraph.join(' '), '', '', width));
    paragraph = [];
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      flush();
      out.push('');
    } else if (/^( |- |\d+\. )/.test(line)) {
      flush();
      out.push(wrapLine(line, width));
    } else paragraph.push(line.trim());
  }
  flush();
  return out.join('\n');
}

// Prose for a person in a terminal (status notes, hints): broken at spaces so that no line runs
// past 80 columns, where a terminal would otherwise break it mid-word. Commands to copy are not
// passed through it: a command stays on one line whatever its length.

/** The width prose is wrapped to: the narrowest terminal people use. */
export const PROSE_COLUMNS = 80;

/**
 * `line` broken at spaces into lines of at most `width` characters; the lines after the first are
 * indented by the line's own indentation plus two spaces. A word longer than a line stays whole.
 *
 * @example
 * ```ts
 * wrapLine('  worker w refused it: its flow differs …', 30);
 * // '  worker w refused it: its\n    flow differs …'
 * ```
 */
export function wrapLine(line: string, width: number = PROSE_COLUMNS): string {
  if (line.length <= width) return line;
  const indent = /^ */.exec(line)![0];
  const more = `${indent}  `;
  const words = line.slice(indent.length).split(' ');
  const lines: string[] = [];
  let current = indent;
  for (const word of words) {
    const lead = lines.length === 0 ? indent : more;
    if (current !== lead && current.length + 1 + word.length > width) {
      lines.push(current);
      current = more + word;
    } else current = current === lead ? current + word : `${current} ${word}`;
  }
  lines.push(current);
  return lines.join('\n');
}

// Prose for a terminal (src/cli/wrapText.ts): broken at spaces, never past the width, continuation
// lines indented under their first; a word longer than a line stays whole.
import { describe, expect, it } from 'vitest';
import { fill, PROSE_COLUMNS, reflow, wrapLine } from '../../src/cli/wrapText.ts';

describe('wrapLine', () => {
  const reason =
    "  worker vm:21135:443469 refused it: its flow 'workers' has definition sha256:1dff58a34e48, the run's is sha256:5ca5df8de5e7: the flow files differ from the ones the run was started with. Deploy the same flow files to every worker and driver.";

  it('breaks at spaces into lines of at most 80 columns, the words in order', () => {
    const lines = wrapLine(reason).split('\n');
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(PROSE_COLUMNS);
    expect(lines.join(' ').replace(/\s+/g, ' ').trim()).toBe(reason.trim());
    expect(lines[0]).toBe("  worker vm:21135:443469 refused it: its flow 'workers' has definition");
    for (const line of lines.slice(1)) expect(line).toMatch(/^ {4}\S/);
  });

  it('leaves a line that fits as it is, and a word longer than the width whole', () => {
    expect(wrapLine('Not progressing: 1 attempt (list#1) waits.')).toBe('Not progressing: 1 attempt (list#1) waits.');
    const url = `postgres://${'x'.repeat(90)}`;
    expect(wrapLine(`see ${url} now`, 40)).toBe(`see\n  ${url}\n  now`);
    expect(wrapLine('a b c d e f', 5)).toBe('a b c\n  d e\n  f');
  });
});

describe('fill and reflow', () => {
  it('fill starts the first line with one prefix and the others with another', () => {
    expect(fill('Most attempts running at once', '  --concurrency <n>  ', ' '.repeat(21), 40)).toEqual(['  --concurrency <n>  Most attempts', '                     running at once']);
    expect(fill('', 'Usage: ', '  ')).toEqual(['Usage:']);
    expect(fill('a  b', '', '')).toEqual(['a b']);
  });

  it('reflow joins the lines of a paragraph anew, keeps blank-line paragraphs apart and list lines on their own', () => {
    const text = 'One sentence broken\nat an odd place.\n\nA second paragraph.\n- a list item\n  an indented line';
    expect(reflow(text, 80)).toBe('One sentence broken at an odd place.\n\nA second paragraph.\n- a list item\n  an indented line');
    expect(reflow('aaa bbb ccc ddd', 8)).toBe('aaa bbb\nccc ddd');
  });
});

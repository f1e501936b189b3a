// What a run stores of one ctx().log line: cut at lineLength (with a count of what was cut), NUL
// (which PostgreSQL text cannot hold) stored as U+FFFD, a line a worker already bounded kept as is.
import { describe, expect, it } from 'vitest';
import { TaskLogCollector, taskLogLimits } from '../../src/runtime/subscribers/taskLogs.ts';

function stored(line: string, alreadyBounded?: boolean): string {
  const collector = new TaskLogCollector();
  if (alreadyBounded === undefined) collector.add('k', 't', 1, line, 0);
  else collector.add('k', 't', 1, line, 0, alreadyBounded);
  return collector.take()[0]!.line;
}

describe('TaskLogCollector line bounds', () => {
  it('a line of exactly lineLength characters is stored whole; one longer is cut with a note of the rest', () => {
    const exact = 'x'.repeat(taskLogLimits.lineLength);
    expect(stored(exact)).toBe(exact);
    const longer = 'y'.repeat(taskLogLimits.lineLength + 904);
    expect(stored(longer)).toBe(`${'y'.repeat(taskLogLimits.lineLength)}… (904 more characters)`);
  });

  it('a line is bounded unless the caller says it already was (a worker bounds its own lines)', () => {
    const longer = 'z'.repeat(taskLogLimits.lineLength + 1);
    expect(stored(longer)).toHaveLength(taskLogLimits.lineLength + '… (1 more characters)'.length);
    expect(stored(longer, false)).toBe(stored(longer));
    expect(stored(longer, true)).toBe(longer);
  });

  it('NUL characters are stored as U+FFFD, the rest of the line unchanged', () => {
    expect(stored('a\u0000b\u0000')).toBe('a\uFFFDb\uFFFD');
    expect(stored('plain line')).toBe('plain line');
  });

  it('take() hands each line over once, with its key, task, attempt and time', () => {
    const collector = new TaskLogCollector();
    collector.add('load', 'load', 2, 'hello', 42);
    expect(collector.size).toBe(1);
    expect(collector.take()).toEqual([{ key: 'load', taskId: 'load', attempt: 2, at: 42, line: 'hello' }]);
    expect(collector.size).toBe(0);
    expect(collector.take()).toEqual([]);
  });
});

// The run's log as the CLI prints it on a terminal: the runtime's own notices (`taskmachine: …`,
// often a few hundred characters: a worker that refuses the run, attempts nobody takes, a lost
// worker) are wrapped at spaces to 80 columns, so the terminal does not cut them mid-word above
// the live view; task code's own lines are printed as they are (they may be meant for a machine).
import { describe, expect, it } from 'vitest';
import { openSession } from '../../src/cli/session.ts';

function session(wrapNotices: boolean) {
  const printed: string[] = [];
  const s = openSession({ flowId: 'etl', json: false, view: 'none', graceMs: 10_000, durable: true, stdout: () => {}, stderr: (text) => printed.push(text), wrapNotices });
  return { log: s.log, printed: () => printed.join('') };
}

const notice =
  "taskmachine: worker db-7:4242:a1b2c3 stopped heartbeating for 10 s; its 3 attempts of run 'nightly-2026-12-03' run again as interruptions (no retry used)";
const taskLine = `[extract#1] ${JSON.stringify({ rows: 1200, table: 'customers', took: 'x'.repeat(80) })}`;

describe("the run's log on a terminal", () => {
  it('wraps the runtime notices at spaces to 80 columns and prints task lines whole', () => {
    const { log, printed } = session(true);
    log(notice);
    log(taskLine);
    const lines = printed().trimEnd().split('\n');
    const [wrapped, task] = [lines.slice(0, -1), lines.at(-1)];
    expect(wrapped.length).toBeGreaterThan(1);
    for (const line of wrapped) expect(line.length, line).toBeLessThanOrEqual(80);
    // Nothing lost or cut mid-word: the words joined again are the notice.
    expect(wrapped.map((line) => line.trim()).join(' ')).toBe(notice);
    expect(task).toBe(taskLine);
  });

  it('prints every line whole when the log is not a terminal (a file, a pipe: one line per notice to grep)', () => {
    const { log, printed } = session(false);
    log(notice);
    expect(printed()).toBe(`${notice}\n`);
  });
});

// The summary the CLI prints when a run ends, at a terminal's width: long failures are wrapped at
// spaces under their key instead of breaking mid-word at the terminal's edge.
import { describe, expect, it } from 'vitest';
import stringWidth from 'string-width';
import { flow, runFlow } from '../../src/index.ts';
import { summary } from '../../src/cli/progress.ts';

describe('summary at 80 columns', () => {
  it("wraps a failure's long first line and a long outcome line; no line is wider than the terminal", async () => {
    const record = await runFlow(
      flow('reporting', (f) => {
        f.task('publish-quarterly-report', () => {
          throw new Error('the upload of quarterly-report-2026-q4.pdf was refused by reporting-db.internal.example.com after 3 tries (HTTP 503)');
        });
      }),
      { runId: 'a-run-id-that-is-rather-long-because-someone-chose-it-2026-12-03', log: () => {} },
    );
    const text = summary(record, 1234, false, 80);
    for (const line of text.split('\n')) expect(stringWidth(line), line).toBeLessThanOrEqual(80);
    expect(text).toContain('  publish-quarterly-report: Error: the upload of quarterly-report-2026-q4.pdf\n    was refused');
    expect(text.replace(/\n\s*/g, ' ')).toContain('refused by reporting-db.internal.example.com after 3 tries (HTTP 503)');
    // On a pipe (no width) nothing is wrapped.
    expect(summary(record, 1234, false).split('\n').some((line) => stringWidth(line) > 80)).toBe(true);
  });
});

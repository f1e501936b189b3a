// The live view as a person sees it: the real CLI runs in tmux (a real terminal on a real
// pseudo-terminal) at 80×24 and at 200×50 while its tasks log, one fails, and the terminal is
// resized; the test reads the screen back with `tmux capture-pane`. tmux must be installed
// (.ci/run installs it on CI).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import stringWidth from 'string-width';
import { wrapLine } from '../../src/cli/wrapText.ts';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/taskmachine.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'taskmachine-live-'));
const config = join(dir, 'tmux.conf');
// No status line (the pane is the whole window), keep a finished pane to read, room for history.
writeFileSync(config, 'set -g status off\nset -g remain-on-exit on\nset -g history-limit 10000\n');
const socket = `taskmachine-test-${process.pid}`;
const { NO_COLOR: _, ...environment } = process.env;

function tmux(...args: string[]): string {
  const result = spawnSync('tmux', ['-L', socket, '-f', config, ...args], { encoding: 'utf8', env: environment });
  if (result.error) throw new Error(`tmux is needed for this test (apt-get install tmux; .ci/run installs it): ${result.error.message}`);
  if (result.status !== 0) throw new Error(`tmux ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

afterAll(() => {
  spawnSync('tmux', ['-L', socket, 'kill-server']);
  rmSync(dir, { recursive: true, force: true });
});

/** A run of test/fixtures/noisy-flow.ts in its own tmux session. */
function start(name: string, columns: number, rows: number, env: Record<string, string> = {}) {
  const release = join(dir, `${name}.release`);
  // A retried test starts afresh: no session of that name, no release file left from before.
  spawnSync('tmux', ['-L', socket, '-f', config, 'kill-session', '-t', name], { env: environment });
  rmSync(release, { force: true });
  const variables = Object.entries({ ...env, NOISY_FLOW_RELEASE: release }).flatMap(([key, value]) => ['-e', `${key}=${value}`]);
  // Through a shell that prints the exit code: tmux does not always collect it from a pane.
  // (A trap, so that Ctrl-C stops the CLI but not the shell.)
  const command = ['sh', '-c', 'trap : INT; "$0" "$@"; echo "[exit $?]"', process.execPath, bin, 'run', 'test/fixtures/noisy-flow.ts', '--store', 'memory'];
  tmux('new-session', '-d', '-s', name, '-x', String(columns), '-y', String(rows), '-c', root, ...variables, ...command);
  return {
    /** The screen as rows (what the terminal shows, a too-wide line on several rows). */
    rows: () => trimEnd(tmux('capture-pane', '-p', '-t', name).split('\n')),
    /** The screen with wrapped rows joined back into the lines that were written. */
    lines: (history = false) => trimEnd(tmux('capture-pane', '-p', '-J', ...(history ? ['-S', '-'] : []), '-t', name).split('\n')),
    /** The screen with its colour and style sequences. */
    styled: () => tmux('capture-pane', '-p', '-e', '-t', name),
    keys: (...keys: string[]) => tmux('send-keys', '-t', name, ...keys),
    resize: (newColumns: number, newRows: number) => tmux('resize-window', '-t', name, '-x', String(newColumns), '-y', String(newRows)),
    release: () => writeFileSync(release, ''),
    exitCode: (): number | undefined => {
      const exit = /^\[exit (\d+)\]$/m.exec(tmux('capture-pane', '-p', '-t', name));
      return exit ? Number(exit[1]) : undefined;
    },
  };
}

function trimEnd(lines: string[]): string[] {
  const out = lines.map((line) => line.trimEnd()).filter((line) => !/^(Pane is dead|\[exit \d+\]$)/.test(line));
  while (out.length > 0 && out.at(-1) === '') out.pop();
  return out;
}

/** Polls `probe` until it returns a value, for at most 45 s. */
async function until<T>(what: string, probe: () => T | undefined, last: () => unknown): Promise<T> {
  const deadline = Date.now() + 45_000;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last screen:\n${JSON.stringify(last(), null, 1)}`);
    await delay(50);
  }
}

// The clock shows 12.3s, and 1m2s from a minute on (a loaded machine can take that long).
const header = /^warehouse-refresh {2}\[([█░]+)\] (\d+\/\d+ {2}\d+(?:\.\d|m\d+)s)$/;

const withoutClock = (row: string) => row.replace(/ {2}\d+(?:\.\d|m\d+)s$/, '');

/** Whether `line` is the frame's header as drawn for a terminal `columns` wide: the bar as wide as fits, at most 30. */
function headerFor(line: string, columns: number): boolean {
  const [, bar, tail] = header.exec(line) ?? [];
  return bar !== undefined && bar.length === Math.min(30, columns - stringWidth('warehouse-refresh') - stringWidth(tail!) - 5);
}

/**
 * Waits until the frame shows the run held by hold_until_released (nothing is printed any more),
 * then checks the screen: the frame is the last lines, each one row (nothing wrapped, nothing
 * wider than the terminal), and every line above it is one the run printed.
 */
async function checkHeldScreen(session: ReturnType<typeof start>, columns: number) {
  // The screen and the history are two captures; the frame may be redrawn in between, so both are
  // taken again until the screen is the same before and after the history but for the clock,
  // which ticks ten times a second (a tick rewrites only its own row: liveRegion.ts, patchInPlace).
  const { rows, joined } = await until(
    `the held frame at ${columns} columns`,
    () => {
      const rows = session.rows();
      const top = rows.findLastIndex((line) => header.test(line));
      if (!(top > 0 && headerFor(rows[top]!, columns) && rows.at(-2) === 'running: hold_until_released#1')) return undefined;
      const joined = session.lines();
      return JSON.stringify(session.rows().map(withoutClock)) === JSON.stringify(rows.map(withoutClock)) ? { rows, joined } : undefined;
    },
    () => session.rows(),
  );
  // The frame: its lines are the last rows of the screen, one row each (a wrapped line would make a row that is none of these).
  const top = rows.findLastIndex((line) => header.test(line));
  const frame = rows.slice(top);
  expect(frame.slice(1, -2).join(' ')).toMatch(/^ none 1 +running 1 +success 9 +failed 1 +upstream_failed 1$/);
  for (const line of frame.slice(1, -2)) expect(line).toMatch(/^( \w+ \d+ {2})* \w+ \d+$/);
  expect(frame.at(-2)).toBe('running: hold_until_released#1');
  const failure = '✗ load_into_the_reporting_database: FailTask: connection refused by reporting-db-7.internal:5432 after 3 attempts; giving up (see the server logs)';
  // Cut with … where it is too wide.
  expect(frame.at(-1)).toBe(stringWidth(failure) <= columns ? failure : `${failure.slice(0, columns - 1)}…`);
  for (const line of frame) expect(stringWidth(line), line).toBeLessThanOrEqual(columns);
  // Above the frame (wrapped lines joined): only what the run printed, the held task's line last.
  const lines = joined.slice(0, joined.findLastIndex((line) => header.test(line)));
  expect(lines.at(-1)).toBe('[hold_until_released#1] waiting to be released');
  const runId = /^run (\S+) of flow/.exec(session.lines(true)[0] ?? '')?.[1] ?? '?';
  const expected = printedLines(runId);
  lines.forEach((line, index) => {
    // The top row may be the end of a line that began above the screen.
    expect(expected.some((printed) => (index === 0 ? printed.endsWith(line) : printed === line)), line).toBe(true);
  });
  return frame;
}

/** What the run prints above the frame, in order but for the partitions, which run at once. */
const printedLines = (runId: string) => [
  `run ${runId} of flow 'warehouse-refresh' started`,
  '[fetch_customer_records_from_the_upstream_warehouse#1] fetched page 1 of 3',
  '[fetch_customer_records_from_the_upstream_warehouse#1] fetched page 2 of 3',
  '[fetch_customer_records_from_the_upstream_warehouse#1] fetched page 3 of 3',
  ...Array.from({ length: 8 }, (_, index) => [
    `[transform_partition[${index}]#1] partition ${index + 1}: ${'+'.repeat(index + 1)}`,
    `console.log from partition ${index + 1}`,
  ]).flat(),
  '[hold_until_released#1] waiting to be released',
  '[hold_until_released#1] released',
];

/** After the run: everything it printed is there once, and nothing else: no frame line, no half line. */
function checkFinalHistory(history: string[], columns: number) {
  const runId = /^run (\S+) of flow 'warehouse-refresh' started$/.exec(history[0] ?? '')?.[1];
  expect(runId, history[0]).toBeDefined();
  const expected = printedLines(runId!);
  const counts = 'success 11, failed 1, upstream_failed 1';
  // The outcome and the counts on one line when they fit, else on two.
  const outcome = new RegExp(`^run ${runId} failed \\(task_failure\\) in \\d+\\.\\ds(: ${counts})?$`);
  const summaryAt = history.findIndex((line) => outcome.test(line));
  expect(summaryAt, 'the summary').toBeGreaterThan(0);
  const oneLine = history[summaryAt]!.endsWith(counts);
  expect(oneLine).toBe(stringWidth(`run ${runId} failed (task_failure) in 0.0s: ${counts}`) <= columns);
  expect([...history.slice(0, summaryAt)].sort()).toEqual([...expected].sort());
  expect(history.slice(0, 4)).toEqual(expected.slice(0, 4));
  expect(history.slice(summaryAt - 2, summaryAt)).toEqual(expected.slice(-2));
  expect(history.slice(summaryAt + 1)).toEqual([
    ...(oneLine ? [] : [counts]),
    // The failure wrapped at spaces to the terminal's width (not broken mid-word by the terminal).
    ...wrapLine('  load_into_the_reporting_database: FailTask: connection refused by reporting-db-7.internal:5432 after 3 attempts; giving up (see the server logs)', columns).split('\n'),
  ]);
  expect(stringWidth(history[summaryAt]!)).toBeLessThanOrEqual(columns);
}

describe('the live view in a terminal (tmux)', () => {
  // Resized while the frame's clock ticks: tmux re-wraps its screen before it tells the program
  // (at the end of its loop, or 250 ms later), so a tick may be drawn for the old width on the
  // new screen. Ticks patch the frame in place (liveRegion.ts, patchInPlace) and leave nothing
  // stale; before that, about one run in four or five under load showed a stale header row here.
  it('at 80×24 with NO_COLOR, resized while it runs: no wrapped, stale or erased line, no colour', { timeout: 120_000 }, async () => {
    const session = start('narrow', 80, 24, { NO_COLOR: '1' });
    await checkHeldScreen(session, 80);
    expect(session.styled()).not.toMatch(/\x1b\[[0-9;]*m/);
    for (const [columns, rows] of [
      [50, 24],
      [44, 16],
      [120, 30],
      [80, 24],
    ] as const) {
      session.resize(columns, rows);
      await checkHeldScreen(session, columns);
    }
    session.release();
    expect(await until('the run to end', session.exitCode, () => session.rows())).toBe(1);
    checkFinalHistory(session.lines(true), 80);
  });

  it('Ctrl-C: the stopping message is printed above the frame and stays', { timeout: 120_000 }, async () => {
    const session = start('interrupted', 80, 24, { NO_COLOR: '1' });
    await checkHeldScreen(session, 80);
    session.keys('C-c');
    expect(await until('the run to stop', session.exitCode, () => session.rows())).toBe(130);
    const history = session.lines(true);
    // (Wrapped at 80 columns, as all prose: the second line is indented by two.)
    const stopping = 'SIGINT: stopping — running attempts get 10000 ms to finish or checkpoint (send';
    expect(history.filter((line) => line === stopping)).toHaveLength(1);
    const at = history.indexOf(stopping);
    expect(history[at + 1]).toBe('  it again to exit at once)');
    const runId = /^run (\S+) of flow/.exec(history[0]!)![1]!;
    expect([...history.slice(0, at)].sort()).toEqual(printedLines(runId).slice(0, -1).sort());
    expect(history.slice(at + 2)).toEqual([
      `run ${runId} stopped before it finished`,
      // The attempt Ctrl-C interrupted is scheduled to run again (an interruption is not a failure).
      'none 1, scheduled 1, success 9, failed 1, upstream_failed 1',
      ...wrapLine('  load_into_the_reporting_database: FailTask: connection refused by reporting-db-7.internal:5432 after 3 attempts; giving up (see the server logs)', 80).split('\n'),
      `run ${runId} stopped (it was not kept: --store memory).`,
    ]);
  });

  it('at 200×50 with colours: the same, and the counts in the states’ colours', { timeout: 120_000 }, async () => {
    const session = start('wide', 200, 50);
    const frame = await checkHeldScreen(session, 200);
    expect(frame[0]).toMatch(/\[[█░]{30}\]/);
    expect(session.styled()).toContain('\x1b[1mwarehouse-refresh');
    expect(session.styled()).toMatch(/\x1b\[[0-9;]*48;2;0;128;0[0-9;]*m success 9 /);
    session.release();
    expect(await until('the run to end', session.exitCode, () => session.rows())).toBe(1);
    checkFinalHistory(session.lines(true), 200);
  });

});

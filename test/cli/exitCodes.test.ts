// The exit-code contract of the `taskmachine` CLI, one row per way an invocation ends (the bin's
// Node.js version check included), each a real process (`process.execPath bin/taskmachine.js`):
// 0 success · 1 a failed run · 2 bad usage, input or store · 130 SIGINT · 143 SIGTERM. Each row
// also checks that the message names the problem.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'taskmachine.js');
const dir = mkdtempSync(join(tmpdir(), 'taskmachine-codes-'));
const store = join(dir, 'runs.db');
/** A regular file: a store path under it cannot be created, whoever runs the tests (root too). */
const plainFile = join(dir, 'plain.txt');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Row {
  readonly name: string;
  readonly args: readonly string[];
  readonly code: number;
  /** Text the output (stdout + stderr) must contain. */
  readonly says: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Options for `node` itself, before the bin. */
  readonly nodeArgs?: readonly string[];
  /** Send this signal once stdout shows `after`. */
  readonly signal?: { readonly name: NodeJS.Signals; readonly after: string };
  /**
   * Add `--store <the test's store>`.
   * @default true
   */
  readonly withStore?: boolean;
}

const rows: readonly Row[] = [
  {
    name: 'a Node.js older than 22.18',
    nodeArgs: ['--import', './test/fixtures/pretend-node-20.mjs'],
    args: ['--version'],
    code: 2,
    says: 'taskmachine: needs Node.js 22.18 or newer (it runs TypeScript flow files natively); this is Node.js 20.11.1.',
    withStore: false,
  },
  { name: 'unknown command', args: ['frobnicate'], code: 2, says: "unknown command 'frobnicate'", withStore: false },
  { name: 'unknown option', args: ['run', 'test/fixtures/input-echo.ts', '--colour'], code: 2, says: "run: unknown option '--colour'" },
  { name: 'bad option value (number)', args: ['run', 'test/fixtures/input-echo.ts', '--concurrency', 'zero'], code: 2, says: "--concurrency must be a whole number ≥ 1, got 'zero'" },
  { name: 'bad option value (choice)', args: ['run', 'test/fixtures/input-echo.ts', '--view', 'sideways'], code: 2, says: "--view must be one of auto, live, lines, none; got 'sideways'" },
  { name: 'bad --input', args: ['run', 'test/fixtures/input-echo.ts', '--input', '{day'], code: 2, says: 'run: --input is not valid JSON' },
  // (On the finished run 'done': these used to wait for an end that never came, and exit 13.)
  { name: 'unknown task key for set-state', args: ['set-state', 'done', 'ghost', 'success'], code: 2, says: "run 'done' has no task instance 'ghost'" },
  { name: 'unknown task key for clear', args: ['clear', 'done', 'ghost'], code: 2, says: "run 'done' has no task instance 'ghost'" },
  { name: 'unknown task key for resume-task', args: ['resume-task', 'done', 'ghost'], code: 2, says: "run 'done' has no task instance 'ghost'" },
  { name: 'change the lifecycle refuses', args: ['set-state', 'done', 'echo', 'success'], code: 2, says: "event SET_STATE is not legal in state 'success'" },
  { name: 'missing run for resume', args: ['resume', 'nope'], code: 2, says: "there is no run 'nope'" },
  { name: 'missing run for status', args: ['status', 'nope'], code: 2, says: "there is no run 'nope'" },
  { name: 'missing run for set-state', args: ['set-state', 'nope', 'echo', 'success'], code: 2, says: "there is no run 'nope'" },
  { name: 'missing run for send-event', args: ['send-event', 'nope', 'echo'], code: 2, says: "there is no run 'nope'" },
  { name: 'missing run for cancel', args: ['cancel', 'nope'], code: 2, says: "there is no run 'nope'" },
  { name: 'missing run for delete (nothing deleted)', args: ['delete', 'done', 'nope'], code: 2, says: "there is no run 'nope'" },
  { name: 'unknown task key for send-event', args: ['send-event', 'done', 'ghost', '--payload', '1'], code: 2, says: "run 'done' has no task instance 'ghost'" },
  { name: 'send-event the lifecycle refuses', args: ['send-event', 'done', 'echo'], code: 2, says: "event TRIGGER is not legal in state 'success'" },
  { name: 'bad --payload', args: ['send-event', 'done', 'echo', '--payload', '{x'], code: 2, says: 'send-event: --payload is not valid JSON' },
  { name: 'clear --downstream of an unknown key', args: ['clear', 'done', 'ghost', '--downstream'], code: 2, says: "run 'done' has no task instance 'ghost'" },
  { name: 'cancel of a run that ended', args: ['cancel', 'done'], code: 0, says: "run 'done' has ended already (success): nothing to cancel" },
  { name: 'prune without an age', args: ['prune'], code: 2, says: '--older-than is required' },
  { name: 'prune with a bad age', args: ['prune', '--older-than', 'soon'], code: 2, says: "--older-than must be a number and a unit (s, m, h, d or w), e.g. 30d; got 'soon'" },
  { name: 'prune with an unknown run state', args: ['prune', '--older-than', '1d', '--state', 'done'], code: 2, says: "prune: unknown run state 'done'" },
  { name: 'status with an unknown state', args: ['status', 'done', '--state', 'finished'], code: 2, says: "status: unknown task instance state 'finished'" },
  { name: 'status --task of no task of the run', args: ['status', 'done', '--task', 'ech'], code: 2, says: "status: run 'done' has no task 'ech'. Did you mean 'echo'?" },
  { name: 'status --task without a run', args: ['status', '--task', 'echo'], code: 2, says: '--state and --task need a run id' },
  {
    name: 'store that cannot be opened (run)',
    args: ['run', 'test/fixtures/input-echo.ts', '--store', join(plainFile, 'runs.db')],
    code: 2,
    says: `Cannot open the store file "${join(plainFile, 'runs.db')}"`,
    withStore: false,
  },
  {
    name: 'store that cannot be opened (status)',
    args: ['status', '--store', join(plainFile, 'runs.db')],
    code: 2,
    says: `Cannot open the store file "${join(plainFile, 'runs.db')}"`,
    withStore: false,
  },
  {
    // A PostgreSQL URL is not a file to check, and its password is never printed.
    name: 'check of a PostgreSQL URL',
    args: ['check', '--store', 'postgres://tm:hunter2@127.0.0.1:1/app'],
    code: 2,
    says: 'check: postgres://tm:***@127.0.0.1:1/app is a PostgreSQL database; check reads SQLite store files.',
    withStore: false,
  },
  { name: 'logs of a run', args: ['logs', 'done'], code: 0, says: "run 'done' stored no log lines" },
  { name: 'missing run for logs', args: ['logs', 'nope'], code: 2, says: "there is no run 'nope'" },
  { name: 'unknown task for logs', args: ['logs', 'done', 'ech'], code: 2, says: "run 'done' has no task or task instance 'ech'. Did you mean 'echo'?" },
  { name: 'bad --attempt for logs', args: ['logs', 'done', 'echo', '--attempt', 'last'], code: 2, says: "logs: --attempt must be a whole number ≥ 1, got 'last'" },
  // Every command about stored runs refuses a store file that is not there (only `run` creates one).
  ...(
    [
      ['status'],
      ['logs', 'done'],
      ['viz', 'run', 'done'],
      ['resume', 'done'],
      ['resume-task', 'done', 'echo'],
      ['set-state', 'done', 'echo', 'success'],
      ['clear', 'done', 'echo'],
      ['send-event', 'done', 'echo'],
      ['cancel', 'done'],
      ['delete', 'done'],
      ['prune', '--older-than', '1d'],
    ] as const
  ).map((command) => ({
    name: `store file that does not exist (${command[0]}: created by nobody)`,
    args: [...command, '--store', join(dir, 'typo.db')],
    code: 2,
    says: `Cannot open the store file "${join(dir, 'typo.db')}": there is no such file, so it holds no runs (nothing was created).`,
    withStore: false,
  })),
  { name: 'flow file that does not exist', args: ['run', 'test/fixtures/no-such-flow.ts'], code: 2, says: "cannot find flow file 'test/fixtures/no-such-flow.ts'" },
  {
    name: 'flow file that throws at import',
    args: ['run', 'test/fixtures/throws-at-import.ts'],
    code: 2,
    says: "could not load 'test/fixtures/throws-at-import.ts': Error: the flow file broke while loading: DATABASE_URL is not set",
  },
  {
    name: 'flow file that throws something that is not an Error at import',
    args: ['run', 'test/fixtures/throws-non-error.ts'],
    code: 2,
    says: "could not load 'test/fixtures/throws-non-error.ts': it threw { code: 42 }, which is not an Error",
  },
  { name: 'flow file that is a directory', args: ['run', 'test/fixtures', '--store', join(dir, 'typo.db')], code: 2, says: "flow file 'test/fixtures' is a directory", withStore: false },
  // Refused before a store is opened: none is created (the check after every row).
  ...(
    [
      ['hook', "exports listeners[0]: 'onRunSuccess' is not a listener hook"],
      ['not-a-function', "exports listeners[0]: hook 'onTaskInstanceSuccess' must be a function"],
      ['gates', "exports two gates named 'disk'"],
    ] as const
  ).map(([bad, says]) => ({
    name: `flow file exporting bad ${bad === 'gates' ? 'gates' : 'listeners'} (${bad})`,
    args: ['run', 'test/fixtures/bad-exports-flow.ts', '--store', join(dir, 'typo.db')],
    env: { BAD: bad },
    code: 2,
    says,
    withStore: false,
  })),
  { name: 'flow file listing one gate twice (one gate)', args: ['run', 'test/fixtures/bad-exports-flow.ts', '--view', 'none'], env: { BAD: 'same-gate' }, code: 0, says: 'success in' },
  { name: 'empty --run-id', args: ['run', 'test/fixtures/input-echo.ts', '--run-id', '', '--store', join(dir, 'typo.db')], code: 2, says: "run: --run-id must not be empty", withStore: false },
  { name: '--lease-ttl too short', args: ['run', 'test/fixtures/input-echo.ts', '--lease-ttl', '5', '--store', join(dir, 'typo.db')], code: 2, says: "--lease-ttl must be a number of ms from 100 to 2147483647", withStore: false },
  // (Past 2^31 − 1 ms a Node timer fires after 1 ms: --grace would not wait, the lease would spin.)
  { name: '--grace longer than a timer takes', args: ['run', 'test/fixtures/input-echo.ts', '--grace', '99999999999'], code: 2, says: "--grace must be a number of ms from 0 to 2147478647 (about 24.8 days), got '99999999999'" },
  // (--grace + the 5 s bound of the stop is one timer: 2^31 − 1 − 5,000 is the most.)
  { name: '--grace whose stop bound would not fit a timer', args: ['run', 'test/fixtures/input-echo.ts', '--grace', '2147483000'], code: 2, says: "--grace must be a number of ms from 0 to 2147478647" },
  { name: '--lease-ttl longer than a timer takes', args: ['resume', 'done', '--lease-ttl', '1e12'], code: 2, says: "--lease-ttl must be a number of ms from 100 to 2147483647" },
  {
    name: 'a value that starts with a dash',
    args: ['run', 'test/fixtures/input-echo.ts', '--grace', '-1'],
    code: 2,
    says: "run: option '--grace' needs a value, but the argument after it starts with '-'.\nGive it a value; one that starts with '-' is written --grace=<value>.",
  },
  { name: 'flow file that exports no flow', args: ['run', 'test/fixtures/no-flow.ts'], code: 2, says: "exports no flow" },
  { name: 'invalid flow definition', args: ['run', 'test/fixtures/bad-definition.ts'], code: 2, says: "flow 'bad' has 2 definition problems" },
  {
    name: 'run id reused with another input',
    args: ['run', 'test/fixtures/input-echo.ts', '--run-id', 'done', '--input', '2'],
    code: 2,
    says: "run 'done' already exists with another input; nothing was run.\nPass --on-input-change reuse",
  },
  { name: 'successful run', args: ['run', 'test/fixtures/input-echo.ts', '--view', 'none'], code: 0, says: 'success in' },
  { name: 'failed run', args: ['run', 'test/fixtures/failing-flow.ts', '--view', 'none'], code: 1, says: 'database refused the connection' },
  {
    name: 'SIGINT',
    args: ['run', 'test/fixtures/stubborn-flow.ts', '--view', 'lines', '--grace', '100'],
    env: { STUBBORN: '1' },
    signal: { name: 'SIGINT', after: 'stubborn: started' },
    code: 130,
    says: 'SIGINT: stopping',
  },
  {
    name: 'SIGTERM',
    args: ['run', 'test/fixtures/stubborn-flow.ts', '--view', 'lines', '--grace', '100'],
    env: { STUBBORN: '1' },
    signal: { name: 'SIGTERM', after: 'stubborn: started' },
    code: 143,
    says: 'SIGTERM: stopping',
  },
  {
    name: 'SIGINT while the flow file is imported',
    args: ['run', 'test/fixtures/slow-import-flow.ts'],
    signal: { name: 'SIGINT', after: 'importing' },
    code: 130,
    says: 'importing',
  },
  {
    name: 'SIGTERM while the flow file is imported',
    args: ['run', 'test/fixtures/slow-import-flow.ts'],
    signal: { name: 'SIGTERM', after: 'importing' },
    code: 143,
    says: 'importing',
  },
];

function invoke(row: Row): Promise<{ code: number | null; output: string }> {
  const args = [...(row.nodeArgs ?? []), bin, ...row.args, ...(row.withStore === false ? [] : ['--store', store])];
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, NO_COLOR: '1', ...row.env } });
  let stdout = '';
  let stderr = '';
  let signalled = false;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (row.signal !== undefined && !signalled && stdout.includes(row.signal.after)) {
      signalled = true;
      child.kill(row.signal.name);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output: stdout + stderr })));
}

beforeAll(async () => {
  writeFileSync(plainFile, 'not a directory');
  // The stored run the rows about existing runs use.
  const { code, output } = await invoke({ name: 'setup', args: ['run', 'test/fixtures/input-echo.ts', '--run-id', 'done', '--input', '1'], code: 0, says: '' });
  expect(code, output).toBe(0);
});

describe('taskmachine exit codes: 0 success, 1 failed run, 2 bad usage/input/store, 130 SIGINT, 143 SIGTERM', () => {
  it.each(rows)('$name → exit $code', async (row) => {
    const { code, output } = await invoke(row);
    expect(code, output).toBe(row.code);
    expect(output).toContain(row.says);
    // A command that only reads runs leaves no store behind where there was none.
    expect(existsSync(join(dir, 'typo.db'))).toBe(false);
  });
});

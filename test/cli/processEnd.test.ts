// How the `taskmachine` process ends, with the real CLI (`process.execPath bin/taskmachine.js`):
// - a task, readiness gate or decorator hook that never settles keeps `run` alive (never exit 13,
//   Node's "unsettled top-level await"), until a signal ends it: 130 for SIGINT, 143 for SIGTERM;
// - after a signal it exits within --grace plus a bound whatever task code holds (an ignored abort
//   signal, an open interval, a listening server, a listener that never settles), the attempt left
//   `running` in the store so a resume counts it as an interruption, not a failure;
// - a second signal exits at once;
// - once a run is over it exits with the run's code, whatever timers task code left behind.
// Signals are sent only after the child printed that it got there; a child whose task holds no
// handle prints "still alive" from an unreferenced timer only if the run kept the process alive
// through an idle event loop. The fixtures are test/fixtures/{stubborn,never-ready,leaky}-flow.ts.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { STOP_BOUND_MS } from '../../src/cli/session.ts';
import { sqliteStore } from '../../src/stores/index.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'taskmachine.js');
const dir = mkdtempSync(join(tmpdir(), 'taskmachine-end-'));
const store = join(dir, 'runs.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * How long a process may take to exit once nothing should keep it: the coarse "does it exit at
 * all" bound, past --grace + STOP_BOUND_MS. Generous (a loaded CI machine starts Node slowly) yet
 * far below what each failure looks like: a process that never exits, or one that waits for
 * listenerTimeout (30 s).
 */
const EXIT_SLACK_MS = 10_000;
const GRACE_MS = 200;

interface Child {
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  signal(name: NodeJS.Signals): void;
  /** Closes the reading end of the child's stdout, as `| head -1` does once it has its line. */
  closeStdout(): void;
  /** Resolves once `text` is in the child's stdout (or stderr); rejects if the child exits first. */
  printed(text: string, stream?: 'stdout' | 'stderr'): Promise<void>;
  /** The exit code; fails (killing the child) if it has not exited within `ms`. */
  exitWithin(ms: number): Promise<number | null>;
}

const children: Array<{ kill(): void }> = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill();
});

function startCli(args: string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, [bin, ...args, '--store', store], { cwd: root, env: { ...process.env, NO_COLOR: '1', ...env } });
  children.push({ kill: () => child.kill('SIGKILL') });
  const output = { stdout: '', stderr: '' };
  const changed: Array<() => void> = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream].on('data', (chunk: Buffer) => {
      output[stream] += chunk.toString();
      for (const check of changed) check();
    });
  }
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const describeOutput = () => `stdout:\n${output.stdout}\nstderr:\n${output.stderr}`;
  return {
    pid: child.pid!,
    stdout: () => output.stdout,
    stderr: () => output.stderr,
    signal: (name) => child.kill(name),
    closeStdout: () => child.stdout.destroy(),
    printed: (text, stream = 'stdout') =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (output[stream].includes(text)) resolve();
        };
        changed.push(check);
        check();
        void exit.then(({ code, signal }) => reject(new Error(`exited (code ${code}, signal ${signal}) before printing '${text}'\n${describeOutput()}`)));
      }),
    exitWithin: async (ms) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
      const outcome = await Promise.race([exit, late]);
      clearTimeout(timer);
      if (outcome === 'late') {
        child.kill('SIGKILL');
        throw new Error(`still running ${ms} ms after it should have ended\n${describeOutput()}`);
      }
      return outcome.code;
    },
  };
}

/** Runs the CLI to its end; a process that does not exit within the bound is killed (status null). */
function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(process.execPath, [bin, ...args, '--store', store], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
    timeout: EXIT_SLACK_MS,
    killSignal: 'SIGKILL',
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** What the store says about a run: its state, each instance's state, attempt and interruptions, the lease, the transition log. */
async function stored(runId: string) {
  const opened = sqliteStore({ path: store });
  try {
    const loaded = await opened.loadRun(runId);
    return {
      run: loaded?.run.state,
      instances: Object.fromEntries((loaded?.instances ?? []).map((i) => [i.key, { state: i.state, attempt: i.attempt, interruptions: i.interruptions }])),
      lease: await opened.getLease(runId),
      events: (await opened.readTransitionLog(runId)).map((t) => `${t.key} ${t.event}`),
    };
  } finally {
    await opened.close();
  }
}

/**
 * After a stop: the resumed run (task code no longer stuck) succeeds; the stopped attempt was a
 * graceful interruption (not counted), never a failure or a retry.
 */
async function expectResumedAfterInterruption(runId: string, key: string, interruptions = 0): Promise<void> {
  const resumed = cli(['resume', runId, '--view', 'none']);
  expect(resumed.code, resumed.stderr).toBe(0);
  const end = await stored(runId);
  expect(end.run).toBe('success');
  expect(end.instances[key]).toEqual({ state: 'success', attempt: 1, interruptions });
  expect(end.events).toContain(`${key} INTERRUPT`);
  expect(end.events.filter((event) => / (FAIL|RETRY)$/.test(event))).toEqual([]);
}

describe('a run that never ends by itself keeps the CLI alive until a signal ends it', () => {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`a task that never settles and ignores its signal: alive (not exit 13) until ${signal}, then exit ${code}; the attempt is an interruption`, async () => {
      const runId = `never-settles-${signal}`;
      const child = startCli(['run', 'test/fixtures/stubborn-flow.ts', '--run-id', runId, '--view', 'lines', '--grace', String(GRACE_MS)], { STUBBORN: '1' });
      await child.printed('stubborn: still alive');
      child.signal(signal);
      expect(await child.exitWithin(GRACE_MS + STOP_BOUND_MS + EXIT_SLACK_MS)).toBe(code);
      expect(child.stderr()).toContain(`run ${runId} stopped; continue it with:\n  taskmachine resume ${runId} --store ${store}\n`);
      // Interrupted gracefully (stored scheduled, not failed, not counted) and let go of: the printed resume works at once.
      const atStop = await stored(runId);
      expect(atStop.run).toBe('running');
      expect(atStop.instances.stubborn).toEqual({ state: 'scheduled', attempt: 1, interruptions: 0 });
      expect(atStop.lease?.releasedAt).toBeDefined();
      await expectResumedAfterInterruption(runId, 'stubborn');
    });
  }

  it("a decorator's runFinished that never settles: alive after the run ended (not exit 13) until SIGINT, then exit 130", async () => {
    const runId = 'stuck-run-finished';
    const child = startCli(['run', 'test/fixtures/stubborn-flow.ts', '--run-id', runId, '--view', 'lines', '--grace', String(GRACE_MS)], {
      STUCK_RUN_FINISHED: '1',
    });
    await child.printed('runFinished: still alive');
    child.signal('SIGINT');
    // The run's end never completes, so it never lets go: the stop bound ends the process.
    expect(await child.exitWithin(GRACE_MS + STOP_BOUND_MS + EXIT_SLACK_MS)).toBe(130);
    expect((await stored(runId)).run).toBe('success');
  });

  it('a readiness gate whose check never settles: alive until SIGINT, exit 130; the instance waits queued and runs on resume', async () => {
    const runId = 'never-ready';
    const child = startCli(['run', 'test/fixtures/never-ready-flow.ts', '--run-id', runId, '--view', 'lines', '--grace', String(GRACE_MS)], { NEVER_READY: '1' });
    await child.printed('gate: still alive');
    child.signal('SIGINT');
    expect(await child.exitWithin(GRACE_MS + STOP_BOUND_MS + EXIT_SLACK_MS)).toBe(130);
    const atStop = await stored(runId);
    expect(atStop.run).toBe('running');
    expect(atStop.instances.gated).toEqual({ state: 'queued', attempt: 1, interruptions: 0 });
    const resumed = cli(['resume', runId, '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout).tasks.gated).toMatchObject({ state: 'success', attempts: 1, result: 'ran' });
  });
});

describe('after SIGINT/SIGTERM the CLI exits whatever task code holds', () => {
  it('a task that ignores its signal and holds an interval, a listening server and a promise: exit 143 within --grace + bound', async () => {
    const runId = 'holds-handles';
    const child = startCli(['run', 'test/fixtures/stubborn-flow.ts', '--run-id', runId, '--view', 'lines', '--grace', String(GRACE_MS)], { STUBBORN: 'handles' });
    await child.printed('stubborn: started');
    child.signal('SIGTERM');
    expect(await child.exitWithin(GRACE_MS + STOP_BOUND_MS + EXIT_SLACK_MS)).toBe(143);
    expect((await stored(runId)).instances.stubborn).toEqual({ state: 'scheduled', attempt: 1, interruptions: 0 });
    await expectResumedAfterInterruption(runId, 'stubborn');
  });

  it(`a listener whose beforeStopping never settles: exit 130 after --grace + ${STOP_BOUND_MS} ms, not after listenerTimeout (30 s)`, async () => {
    const runId = 'stuck-listener';
    const child = startCli(['run', 'test/fixtures/stubborn-flow.ts', '--run-id', runId, '--view', 'lines', '--grace', String(GRACE_MS)], {
      STUBBORN: '1',
      STUCK_LISTENER: '1',
    });
    await child.printed('stubborn: started');
    child.signal('SIGINT');
    // Below the 30 s listenerTimeout the process would otherwise wait for.
    expect(await child.exitWithin(GRACE_MS + STOP_BOUND_MS + EXIT_SLACK_MS)).toBe(130);
    expect(child.stderr()).toContain(`SIGINT (the run did not let go within --grace ${GRACE_MS} ms + ${STOP_BOUND_MS} ms: a listener or the store is still busy): exiting now`);
    expect(child.stderr()).toContain(`taskmachine resume ${runId} --store ${store}`);
    // Exited holding its lease: a resume on this host takes over from the dead process at once.
    await expectResumedAfterInterruption(runId, 'stubborn');
  });

  it('a second SIGINT exits at once, without waiting for --grace; the run resumes at once', async () => {
    const runId = 'second-sigint';
    // A grace period of an hour: only the second signal can end the process within the test.
    const child = startCli(['run', 'test/fixtures/stubborn-flow.ts', '--run-id', runId, '--view', 'lines', '--grace', '3600000'], { STUBBORN: 'handles' });
    await child.printed('stubborn: started');
    child.signal('SIGINT');
    await child.printed('SIGINT: stopping', 'stderr');
    child.signal('SIGINT');
    expect(await child.exitWithin(EXIT_SLACK_MS)).toBe(130);
    expect(child.stderr()).toContain(
      `SIGINT again: exiting now (the store keeps every committed turn).\nrun ${runId} stopped; continue it with:\n  taskmachine resume ${runId} --store ${store}\n`,
    );
    // Exited at once, like a kill: the attempt it left running is counted by the resume.
    await expectResumedAfterInterruption(runId, 'stubborn', 1);
  });
});

describe('once a run is over the CLI exits with its code, whatever timers task code left', () => {
  it('a task that leaked an interval and an hour-long timeout, the run succeeds: exit 0', () => {
    const { code, stderr } = cli(['run', 'test/fixtures/leaky-flow.ts', '--view', 'none']);
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/success in [\d.]+s: success 1/);
  });

  it('the same leaks, the run fails: exit 1', () => {
    const { code, stderr } = cli(['run', 'test/fixtures/leaky-flow.ts', '--view', 'none'], { LEAK_FAIL: '1' });
    expect(code, stderr).toBe(1);
    expect(stderr).toContain('failed after leaking two timers');
  });

  it('a timed-out task that ignores its signal and holds an interval: the run fails, exit 1', () => {
    const { code, stderr } = cli(['run', 'test/fixtures/leaky-flow.ts', '--flow', 'timedOut', '--view', 'none']);
    expect(code, stderr).toBe(1);
    expect(stderr).toContain("TaskTimeoutError: task instance 'slow' timed out after 100 ms");
  });
});

/** The text with the prose lines wrapLine broke (continued with 2 spaces) joined again; stack lines ("    at …") stay. */
const unwrap = (text: string): string => text.replace(/\n {2}(?! {2}at )/g, ' ');

describe('errors nothing caught and output nobody reads never leave a run orphaned', () => {
  it('a promise task code rejected and nothing handled: one line with its stack on stderr, the run goes on and succeeds (exit 0)', async () => {
    const { code, stderr } = cli(['run', 'test/fixtures/stray-errors-flow.ts', '--run-id', 'stray-rejection', '--view', 'none'], { STRAY: 'rejection' });
    expect(code, stderr).toBe(0);
    expect(unwrap(stderr)).toMatch(/taskmachine: a promise was rejected and nothing handled it \(task code that did not await or catch a promise\?\); going on\. It was rejected with:\nError: floating rejection\n\s+at .*stray-errors-flow\.ts/);
    expect((await stored('stray-rejection')).run).toBe('success');
  });

  it('an error thrown in a timer callback of task code: printed, then a graceful stop as on SIGTERM (exit 143); the run is let go of and a resume finishes it', async () => {
    const runId = 'stray-throw';
    const { code, stderr } = cli(['run', 'test/fixtures/stray-errors-flow.ts', '--run-id', runId, '--view', 'none', '--grace', String(GRACE_MS)], { STRAY: 'throw' });
    expect(code, stderr).toBe(143);
    expect(unwrap(stderr)).toMatch(/taskmachine: an error was thrown outside any task attempt \(in a timer or event callback of task code\?\); stopping as on SIGTERM\. The error:\nError: thrown in a timer\n\s+at .*stray-errors-flow\.ts/);
    expect(stderr).toContain(`run ${runId} stopped; continue it with:\n  taskmachine resume ${runId} --store ${store}\n`);
    const left = await stored(runId);
    expect(left.run).toBe('running');
    expect(left.lease?.releasedAt).toEqual(expect.any(Number));
    const resumed = cli(['resume', runId, '--view', 'none']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const end = await stored(runId);
    expect(end.run).toBe('success');
    expect(end.events.filter((event) => / (FAIL|RETRY)$/.test(event))).toEqual([]);
  });

  it('the same, and the last attempt ends within --grace: exit 143, and it says there is nothing to resume', async () => {
    const runId = 'stray-throw-finish';
    const { code, stderr } = cli(['run', 'test/fixtures/stray-errors-flow.ts', '--run-id', runId, '--view', 'none', '--grace', String(GRACE_MS)], { STRAY: 'finish' });
    expect(code, stderr).toBe(143);
    expect(stderr).toContain(`run ${runId} ended success while it was stopping: there is nothing to resume.\n`);
    expect(stderr).not.toContain('taskmachine resume');
    expect((await stored(runId)).run).toBe('success');
  });

  it('an error thrown while a Ctrl-C stop is under way: printed, and that graceful stop goes on (exit 130, the run let go of, not cut short as by a second signal)', async () => {
    const runId = 'stray-throw-while-stopping';
    const child = startCli(['run', 'test/fixtures/stray-errors-flow.ts', '--run-id', runId, '--view', 'lines', '--grace', String(GRACE_MS)], { STRAY: 'throw-on-abort' });
    await child.printed('stray: waiting');
    child.signal('SIGINT');
    expect(await child.exitWithin(EXIT_SLACK_MS)).toBe(130);
    expect(unwrap(child.stderr())).toMatch(/taskmachine: an error was thrown outside any task attempt .*; the stop under way goes on\. The error:\nError: thrown while stopping\n/);
    expect(child.stderr()).not.toContain('again: exiting now');
    expect(child.stderr()).toContain(`run ${runId} stopped; continue it with:\n  taskmachine resume ${runId} --store ${store}\n`);
    const left = await stored(runId);
    expect(left.run).toBe('running');
    expect(left.lease?.releasedAt).toEqual(expect.any(Number));
  });

  it('the reader of its output goes away (`run … | head -1`): one line on stderr, a graceful stop as on SIGTERM (exit 143), the run let go of', async () => {
    const runId = 'closed-output';
    const child = startCli(['run', 'test/fixtures/stray-errors-flow.ts', '--run-id', runId, '--view', 'lines', '--grace', String(GRACE_MS)], { STRAY: 'chatty' });
    await child.printed('chatty: line 1');
    child.closeStdout();
    expect(await child.exitWithin(EXIT_SLACK_MS)).toBe(143);
    expect(unwrap(child.stderr())).toContain('taskmachine: its output was closed (the reader of the pipe went away): stopping as on SIGTERM\n');
    expect(child.stderr()).toContain(`run ${runId} stopped; continue it with:\n  taskmachine resume ${runId} --store ${store}\n`);
    expect(child.stderr()).not.toMatch(/EPIPE|Unhandled|node:events/);
    const left = await stored(runId);
    expect(left.run).toBe('running');
    expect(left.lease?.releasedAt).toEqual(expect.any(Number));
    const resumed = cli(['resume', runId, '--view', 'none']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((await stored(runId)).run).toBe('success');
  });
});

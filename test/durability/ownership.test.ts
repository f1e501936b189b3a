// Run ownership across processes, with the real CLI on one SQLite file: the process driving a run
// holds its lease; `resume` from another process is refused naming it; manual changes from another
// process are applied by the owner; two resumes of an orphaned run cannot both drive it; an owner
// stopped (SIGSTOP) past its lease is taken over, and when it continues (SIGCONT) it can write
// nothing and stops. Every task body appends `key attempt pid` to a side log, so the tests count
// how often each ran and where. Waits poll a condition with a deadline (never a fixed sleep).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DatabaseSync } from 'node:sqlite';
import { sqliteStore } from '../../src/stores/index.ts';
import { recordProblems } from './fixtures/storeChecks.ts';
import { bodiesIn, until as untilWithin } from '../helpers/sideLog.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'taskmachine.js');
const fixture = 'test/fixtures/owned-flow.ts';
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Place {
  readonly db: string;
  readonly sideLog: string;
  readonly release: string;
  readonly env: NodeJS.ProcessEnv;
}

function place(paceMs: number): Place {
  const dir = mkdtempSync(join(tmpdir(), 'taskmachine-owner-'));
  dirs.push(dir);
  const sideLog = join(dir, 'side.log');
  writeFileSync(sideLog, '');
  const release = join(dir, 'release');
  return { db: join(dir, 'runs.db'), sideLog, release, env: { ...process.env, NO_COLOR: '1', SIDE_LOG: sideLog, PACE_MS: String(paceMs), RELEASE: release } };
}

interface Child {
  readonly pid: number;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
  signal(name: NodeJS.Signals): void;
}

function startCli(p: Place, args: string[]): Child {
  const child = spawn(process.execPath, [bin, ...args, '--store', p.db], { cwd: root, env: p.env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { pid: child.pid!, exit, stdout: () => stdout, stderr: () => stderr, signal: (name) => child.kill(name) };
}

function cli(p: Place, ...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args, '--store', p.db], { cwd: root, env: p.env, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Waits until `condition` holds: polled every 20 ms, for at most 20 s. */
const until = (what: string, condition: () => boolean | Promise<boolean>) => untilWithin(what, condition, 20_000, 20);

/** The side log: one `{ key, attempt, pid }` per task body that started. */
const bodies = (p: Place) => bodiesIn(p.sideLog);

async function stored(p: Place, runId: string) {
  const store = sqliteStore({ path: p.db });
  try {
    const loaded = await store.loadRun(runId);
    return {
      run: loaded?.run,
      states: Object.fromEntries((loaded?.instances ?? []).map((i) => [i.key, i.state])),
      results: loaded?.results ?? [],
      lease: await store.getLease(runId),
      problems: loaded === undefined ? [] : await recordProblems(store, runId),
    };
  } finally {
    await store.close();
  }
}

const count = (list: Array<{ key: string }>, key: string) => list.filter((b) => b.key === key).length;

/** Whether the process is stopped (Linux: state T in /proc; elsewhere assumed once signalled). */
function isStopped(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return true;
  return /^\d+ \(.*\) T /.test(readFileSync(stat, 'utf8'));
}

/** Whether a write transaction could start on the file now (no process holds the write lock). */
function writeLockFree(db: string): boolean {
  const connection = new DatabaseSync(db);
  try {
    connection.exec('PRAGMA busy_timeout = 0');
    connection.exec('BEGIN IMMEDIATE');
    connection.exec('ROLLBACK');
    return true;
  } catch {
    return false;
  } finally {
    connection.close();
  }
}

/**
 * Stops `child` with SIGSTOP at a moment it holds no write transaction: stopped mid-commit it would
 * keep the store's write lock, and every other process would time out waiting for it — a state
 * this test is not about. Continues it and tries again until the moment is right.
 */
async function stopOutsideWrites(child: Child, db: string): Promise<void> {
  await until('the owner is stopped outside a write transaction', async () => {
    child.signal('SIGSTOP');
    await until('the owner has stopped', () => isStopped(child.pid));
    if (writeLockFree(db)) return true;
    child.signal('SIGCONT');
    return false;
  });
}

/** CLI output wrapped at 80 columns, with its line breaks as spaces (to compare sentences). */
const oneLine = (text: string) => text.replace(/\n\s*/g, ' ');

describe('run ownership between processes', () => {
  it('resume while the owner lives is refused naming it; set-state and resume-task from elsewhere are applied by the owner; every body runs once', async () => {
    const p = place(30);
    const owner = startCli(p, ['run', fixture, '--run-id', 'own', '--view', 'lines', '--concurrency', '2']);
    await until('approve is checkpointed and hold is running', async () => {
      const { states } = await stored(p, 'own');
      return states['approve'] === 'checkpointed' && states['hold'] === 'running';
    });

    const status = cli(p, 'status', 'own');
    expect(status.stdout).toMatch(new RegExp(`^run own of flow '\\S+': running\n.*\ndriven by pid ${owner.pid} on \\S+ \\(last seen \\d+s ago\\)\n`));
    const listed = JSON.parse(cli(p, 'status', '--json').stdout) as Array<{ runId: string; owner: { status: string; pid: number } }>;
    expect(listed.find((run) => run.runId === 'own')!.owner).toMatchObject({ status: 'live', pid: owner.pid });

    const refused = cli(p, 'resume', 'own');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`run 'own' is driven by another process: pid ${owner.pid} on `);
    expect(refused.stderr).toMatch(/Nothing was changed\. Wait for that process to finish/);
    // Refused before anything is shown: no 'resumed' line, no progress.
    expect(refused.stdout).toBe('');
    // So is a `run` with its id: no 'started' line first.
    const again = cli(p, 'run', fixture, '--run-id', 'own', '--view', 'lines');
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`run 'own' is driven by another process: pid ${owner.pid} on `);
    expect(again.stdout).toBe('');

    const illegal = cli(p, 'resume-task', 'own', 'work-0');
    expect(illegal.code).toBe(2);
    expect(illegal.stderr).toMatch(/task instance 'work-0': event RESUME is not legal in state '(success|running|queued|none|scheduled)'/);
    const resumed = cli(p, 'resume-task', 'own', 'approve');
    expect(resumed.code).toBe(0);
    expect(oneLine(resumed.stdout)).toContain(`approve: checkpointed → scheduled (resumed by the process driving the run: pid ${owner.pid} on `);
    // (hold keeps the owner driving the run until it is set by hand.)
    const setState = cli(p, 'set-state', 'own', 'hold', 'success');
    expect(setState).toMatchObject({ code: 0 });
    expect(oneLine(setState.stdout)).toContain(`hold: running → success (applied by the process driving the run: pid ${owner.pid} on `);

    const { code } = await owner.exit;
    expect(code, owner.stderr()).toBe(0);
    const end = await stored(p, 'own');
    expect(end.run!.state).toBe('success');
    expect(end.problems).toEqual([]);
    expect(end.lease!.releasedAt).toEqual(expect.any(Number));
    const ran = bodies(p);
    // Everything ran in the owner; approve twice (checkpointed, then resumed), the rest once.
    expect(new Set(ran.map((b) => b.pid))).toEqual(new Set([owner.pid]));
    for (let i = 0; i < 12; i++) expect(count(ran, `work-${i}`), `work-${i}`).toBe(1);
    expect(count(ran, 'approve')).toBe(2);
    expect(count(ran, 'hold')).toBe(1);
    expect(count(ran, 'report')).toBe(1);
    expect(end.results.map((r) => r.key).sort()).toEqual([...Array.from({ length: 12 }, (_, i) => `work-${i}`), 'approve', 'report'].sort());
  });

  it('two resumes of an orphaned run at once: one drives it, the other is refused; nothing runs twice but the killed attempts', async () => {
    const p = place(150);
    const first = startCli(p, ['run', fixture, '--run-id', 'orphan', '--view', 'none', '--concurrency', '2']);
    // A body writes its side-log line before its turn's commit stores it as running: wait for the
    // store too, or a kill in between leaves no attempt to interrupt (this test used to flake so).
    await until('two work tasks have started, and one is stored as running', async () => {
      if (bodies(p).filter((b) => b.key.startsWith('work-')).length < 2) return false;
      return Object.entries((await stored(p, 'orphan')).states).some(([key, state]) => key.startsWith('work-') && state === 'running');
    });
    first.signal('SIGKILL');
    await first.exit;
    const interrupted = (await stored(p, 'orphan')).states;
    const runningAtKill = Object.entries(interrupted).filter(([, state]) => state === 'running').map(([key]) => key);
    expect(runningAtKill.length).toBeGreaterThan(0);
    // `status` tells a person the run is orphaned (not "running" forever), and what continues it.
    const status = cli(p, 'status', 'orphan');
    expect(status.stdout).toMatch(/^run orphan of flow '\S+': running, orphaned\n/);
    expect(status.stdout).toContain(`orphaned: pid ${first.pid} on `);
    expect(oneLine(status.stdout)).toContain('(that process no longer exists); continue it with: taskmachine resume orphan');
    expect(cli(p, 'status').stdout).toMatch(/^orphan +\S+ +running, orphaned /m);
    expect(JSON.parse(cli(p, 'status', 'orphan', '--json').stdout).owner).toMatchObject({ status: 'orphaned', why: 'process gone', pid: first.pid });

    // Both start at once; hold keeps the one that drives the run busy until the other has ended.
    const [a, b] = [startCli(p, ['resume', 'orphan', '--view', 'none']), startCli(p, ['resume', 'orphan', '--view', 'none'])];
    await Promise.race([a.exit, b.exit]);
    writeFileSync(p.release, '');
    const exits = await Promise.all([a.exit, b.exit]);
    const outcomes = [a, b].map((child, i) => ({ code: exits[i]!.code, stderr: child.stderr(), stdout: child.stdout(), pid: child.pid }));
    const refused = outcomes.filter((o) => o.code === 2);
    const drove = outcomes.filter((o) => o.code !== 2);
    expect(refused, JSON.stringify(outcomes)).toHaveLength(1);
    expect(refused[0]!.stderr).toContain(`run 'orphan' is driven by another process: pid ${drove[0]!.pid} on `);
    // The driver ends waiting for approve (exit 1, with the command that continues it).
    expect(drove[0]!.code).toBe(1);
    expect(drove[0]!.stdout).toContain('taskmachine resume-task orphan approve --store');
    // Taken over at once because its process is gone (its lease had not expired yet): it says so.
    expect(drove[0]!.stderr).toMatch(new RegExp(`took over run 'orphan' from pid ${first.pid} on .* \\(that process no longer exists\\)`));

    const end = await stored(p, 'orphan');
    expect(end.problems).toEqual([]);
    const ran = bodies(p);
    for (const b of ran) expect([first.pid, drove[0]!.pid]).toContain(b.pid);
    for (let i = 0; i < 12; i++) {
      const key = `work-${i}`;
      // Only an attempt the kill interrupted ran again (same attempt number: no retry used).
      expect(count(ran, key), key).toBe(runningAtKill.includes(key) ? 2 : 1);
      expect(ran.filter((b) => b.key === key).every((b) => b.attempt === 1)).toBe(true);
      expect(end.states[key]).toBe('success');
    }
    expect(end.results.filter((r) => r.key.startsWith('work-'))).toHaveLength(12);
  });

  it('an owner stopped (SIGSTOP) past its lease is taken over; continued (SIGCONT) it writes nothing, starts nothing and stops', async () => {
    // --lease-ttl 600: the lease expires 0.6 s after the owner's last heartbeat (not the default 30 s).
    const p = place(150);
    const owner = startCli(p, ['run', fixture, '--run-id', 'paused', '--view', 'none', '--concurrency', '2', '--lease-ttl', '600']);
    await until('two work tasks are running', () => bodies(p).filter((b) => b.key.startsWith('work-')).length >= 2);
    await stopOutsideWrites(owner, p.db);
    const atStop = await stored(p, 'paused');
    const bodiesAtStop = bodies(p).length;
    writeFileSync(p.release, '');

    // Its lease expires while it is stopped: `status` says so, and that its process still runs.
    await until('status sees the lease expired', () => cli(p, 'status', 'paused').stdout.includes('has not renewed its lease'));
    const status = oneLine(cli(p, 'status', 'paused').stdout);
    expect(status).toContain(`orphaned: pid ${owner.pid} on `);
    expect(status).toContain(`but still runs: it is busy (a task blocking its event loop?) or stopped. Stop it first (kill ${owner.pid})`);

    // Another process takes the run over once the stopped owner's lease has expired.
    let taker: Child | undefined;
    await until('another process took the run over', async () => {
      const attempt = startCli(p, ['resume', 'paused', '--view', 'none', '--lease-ttl', '600']);
      const exited = await Promise.race([attempt.exit, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1_500))]);
      if (exited === undefined || exited.code !== 2) {
        taker = attempt;
        return true;
      }
      expect(attempt.stderr()).toContain(`driven by another process: pid ${owner.pid}`);
      return false;
    });
    const takerExit = await taker!.exit;
    expect(takerExit.code, taker!.stderr()).toBe(1); // waiting for approve
    const afterTakeover = await stored(p, 'paused');
    const bodiesAfterTakeover = bodies(p).length;
    expect(afterTakeover.lease).toMatchObject({ token: atStop.lease!.token + 1, owner: { pid: taker!.pid } });

    owner.signal('SIGCONT');
    const ownerExit = await owner.exit;
    expect(ownerExit.code).toBe(2);
    expect(owner.stderr()).toMatch(/Lease lost: this process held run 'paused' with lease token \d+/);
    // The continued owner started no body and changed nothing.
    expect(bodies(p).length).toBe(bodiesAfterTakeover);
    expect(bodies(p).slice(bodiesAtStop).every((b) => b.pid === taker!.pid)).toBe(true);
    const end = await stored(p, 'paused');
    expect(end.states).toEqual(afterTakeover.states);
    expect(end.results).toEqual(afterTakeover.results);
    expect(end.problems).toEqual([]);
  });

  it('Ctrl-C then resume, every task with the default retries: 0: the run succeeds and no attempt failed', async () => {
    const p = place(100);
    const owner = startCli(p, ['run', fixture, '--run-id', 'ctrl-c', '--view', 'lines', '--concurrency', '2']);
    await until('two work tasks are running', () => bodies(p).filter((b) => b.key.startsWith('work-')).length >= 2);
    owner.signal('SIGINT');
    const stopped = await owner.exit;
    expect(stopped.code).toBe(130);
    expect(owner.stderr()).toMatch(/continue it with:\n {2}taskmachine resume ctrl-c --store /);
    writeFileSync(p.release, '');
    // The printed command works at once (the stopped process released the run).
    const resumed = cli(p, 'resume', 'ctrl-c', '--view', 'none');
    expect(resumed.code).toBe(1); // waiting for approve
    expect(cli(p, 'resume-task', 'ctrl-c', 'approve', '--view', 'none').code).toBe(0);
    const end = await stored(p, 'ctrl-c');
    expect(end.run!.state).toBe('success');
    expect(Object.values(end.states).every((state) => state === 'success')).toBe(true);
    expect(end.problems).toEqual([]);
    const store = sqliteStore({ path: p.db });
    const log = await store.readTransitionLog('ctrl-c');
    await store.close();
    expect(log.filter((t) => t.event === 'FAIL' || t.event === 'RETRY')).toEqual([]);
    expect(log.some((t) => t.event === 'INTERRUPT')).toBe(true);
    expect(existsSync(p.release)).toBe(true);
  });
});

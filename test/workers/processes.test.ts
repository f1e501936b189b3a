// Attempts on worker processes, with the real CLI and a private PostgreSQL cluster: a driver
// (`taskmachine run --executor workers`) and `taskmachine worker` processes. Two workers share a
// run's attempts; a worker killed with SIGKILL mid-attempt makes that attempt an interruption (not
// a failure; default retries: 0) that runs again on the other worker; a driver killed with SIGKILL
// leaves its run to a worker, which adopts it once the lease expired and finishes it; a detached
// run is driven by a worker. Every task body appends `key attempt pid` to a side log, so the tests
// count how often each ran and where; the results table shows no result recorded twice. Waits
// poll a condition with a generous deadline (never a fixed sleep). Default options throughout.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { postgres, skipReason } from '../helpers/postgresTest.ts';
import { bodiesIn, until as untilWithin } from '../helpers/sideLog.ts';
import { adminQuery, databaseOfItsOwn, killAll, spawnCli, type CliChild } from '../helpers/cliChild.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'taskmachine.js');
const fixture = 'test/fixtures/worker-flow.ts';
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const children: CliChild[] = [];
afterEach(() => killAll(children));

interface Place {
  readonly url: string;
  readonly sideLog: string;
  readonly release: string;
  readonly listenerLog: string;
  readonly env: NodeJS.ProcessEnv;
}

const admin = (text: string, values: unknown[] = [], database?: string) => adminQuery(postgres!.url, text, values, database);

/** A database of its own (the CLI uses the default schema), a side log and a release file. */
async function place(env: Record<string, string> = {}): Promise<Place & { database: string }> {
  const { database, url } = await databaseOfItsOwn(postgres!.url, 'w');
  const dir = mkdtempSync(join(tmpdir(), 'taskmachine-workers-'));
  dirs.push(dir);
  const sideLog = join(dir, 'side.log');
  writeFileSync(sideLog, '');
  const release = join(dir, 'release');
  const listenerLog = join(dir, 'listener.log');
  writeFileSync(listenerLog, '');
  return {
    database,
    url,
    sideLog,
    release,
    listenerLog,
    env: { ...process.env, NO_COLOR: '1', SIDE_LOG: sideLog, RELEASE: release, LISTENER_LOG: listenerLog, ...env },
  };
}

function start(p: Place, args: string[], env: Record<string, string> = {}): CliChild {
  return spawnCli([...args, '--store', p.url], { ...p.env, ...env }, children);
}

const worker = (p: Place) => start(p, ['worker', fixture, '--concurrency', '4']);

/** Waits until `condition` holds: polled every 50 ms, for at most `ms`. */
const until = (what: string, condition: () => boolean | Promise<boolean>, ms = 90_000) => untilWithin(what, condition, ms, 50);

const bodies = (p: Place) => bodiesIn(p.sideLog);

async function stored(p: Place & { database: string }, runId: string) {
  const run = await admin('SELECT state FROM taskmachine.runs WHERE run_id = $1', [runId], p.database);
  const instances = await admin('SELECT key, state, attempt, interruptions FROM taskmachine.task_instances WHERE run_id = $1', [runId], p.database);
  const results = await admin('SELECT key, attempt FROM taskmachine.results WHERE run_id = $1', [runId], p.database);
  return { state: run[0]?.['state'] as string | undefined, instances, results };
}

/** Final states and results as an uninterrupted run has them: everything success, each result once. */
function expectComplete(s: Awaited<ReturnType<typeof stored>>, items: number): void {
  expect(s.state).toBe('success');
  expect(s.instances).toHaveLength(items + 3);
  for (const instance of s.instances) expect({ key: instance['key'], state: instance['state'], attempt: Number(instance['attempt']) }).toEqual({ key: instance['key'], state: 'success', attempt: 1 });
  const keys = s.results.map((row) => String(row['key']));
  expect(new Set(keys).size).toBe(keys.length);
  expect(keys).toHaveLength(items + 3);
}

describe.skipIf(postgres === undefined)(`taskmachine worker processes${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`, () => {
  it('two workers share the attempts of a run; every body runs once', async () => {
    const p = await place({ ITEMS: '40', PACE_MS: '30' });
    writeFileSync(p.release, '');
    const [a, b] = [worker(p), worker(p)];
    await until('both workers are up', () => a.output().includes('running attempts of') && b.output().includes('running attempts of'));
    // What a worker says when it starts fits an 80-column terminal: the flow and its short
    // definition hash on a line of their own, the server without the password.
    await until('the start lines are out', () => a.output().includes(', schema "'));
    const startLines = a.output().split('\n').slice(0, 3);
    expect(startLines[0]).toMatch(/^taskmachine worker \S+: running attempts of one flow, concurrency 4$/);
    expect(startLines[1]).toMatch(/^ {2}workers {2}definition sha256:[0-9a-f]{12}$/);
    expect(startLines[2]).toMatch(/^ {2}from 127\.0\.0\.1:\d+\/\w+, schema "taskmachine"$/);
    for (const line of startLines) expect(line.length, line).toBeLessThanOrEqual(80);
    expect(a.output()).not.toContain(new URL(postgres!.url).password);
    const driver = start(p, ['run', fixture, '--executor', 'workers', '--run-id', 'shared', '--view', 'lines']);
    expect((await driver.exit).code, driver.output()).toBe(0);
    const ran = bodies(p);
    expect(ran).toHaveLength(43);
    expect(new Set(ran.map((body) => body.key)).size).toBe(43);
    expect(new Set(ran.map((body) => body.pid))).toEqual(new Set([a.pid, b.pid]));
    expect(ran.some((body) => body.pid === driver.pid)).toBe(false);
    expectComplete(await stored(p, 'shared'), 40);
  }, 120_000);

  it('a worker killed with SIGKILL mid-attempt: the attempt is interrupted, not failed, and runs again on the other worker', async () => {
    const p = await place({ ITEMS: '4', PACE_MS: '10' });
    const [a, b] = [worker(p), worker(p)];
    await until('both workers are up', () => a.output().includes('running attempts of') && b.output().includes('running attempts of'));
    const driver = start(p, ['run', fixture, '--executor', 'workers', '--run-id', 'killed', '--view', 'lines']);
    await until("'hold' runs on a worker", () => bodies(p).some((body) => body.key === 'hold'));
    const victim = bodies(p).find((body) => body.key === 'hold')!.pid;
    const [dead, alive] = victim === a.pid ? [a, b] : [b, a];
    dead.kill('SIGKILL');
    expect((await dead.exit).signal).toBe('SIGKILL');
    writeFileSync(p.release, '');
    expect((await driver.exit).code, driver.output()).toBe(0);
    const holds = bodies(p).filter((body) => body.key === 'hold');
    expect(holds.map((body) => [body.attempt, body.pid])).toEqual([
      [1, dead.pid],
      [1, alive.pid],
    ]);
    // The driver says why 'hold' runs again (its view shows only that it does). (The dead worker
    // may have held 'list' or items too, when the kill came before they ended: 'its 4 attempts'.)
    expect(driver.output()).toMatch(
      new RegExp(`taskmachine: worker \\S+:${dead.pid}:\\w+ stopped heartbeating for 10 s; its (1 attempt|\\d+ attempts) of run 'killed' runs? again as interruptions \\(no retry used\\)`),
    );
    const s = await stored(p, 'killed');
    expectComplete(s, 4);
    expect(Number(s.instances.find((instance) => instance['key'] === 'hold')!['interruptions'])).toBe(1);
  }, 120_000);

  it('a worker stopped with SIGTERM hands back an attempt that outlives its --grace: it runs again on the other worker as an interruption', async () => {
    // --grace 100, and 'hold' ignores its signal (the stop's 'preempt') and waits for the release
    // file, so it outlives the grace period.
    const p = await place({ ITEMS: '4', PACE_MS: '10', HOLD_IGNORES_SIGNAL: '1' });
    const [a, b] = [start(p, ['worker', fixture, '--concurrency', '4', '--grace', '100']), start(p, ['worker', fixture, '--concurrency', '4', '--grace', '100'])];
    await until('both workers are up', () => a.output().includes('running attempts of') && b.output().includes('running attempts of'));
    const driver = start(p, ['run', fixture, '--executor', 'workers', '--run-id', 'handed-back', '--view', 'lines']);
    await until("'hold' runs on a worker", () => bodies(p).some((body) => body.key === 'hold'));
    const victim = bodies(p).find((body) => body.key === 'hold')!.pid;
    const [stopped, alive] = victim === a.pid ? [a, b] : [b, a];
    stopped.kill('SIGTERM');
    expect((await stopped.exit).code, stopped.output()).toBe(143);
    expect(stopped.output()).toContain("1 running attempt told to stop ('preempt'); up to 100 ms to end");
    expect(stopped.output()).toContain('1 attempt did not end within the grace period (100 ms); 1 handed back to their drivers (they run again as interruptions, using no retry and not counted)');
    await until("'hold' runs again on the other worker", () => bodies(p).filter((body) => body.key === 'hold').length === 2);
    writeFileSync(p.release, '');
    expect((await driver.exit).code, driver.output()).toBe(0);
    // Handed back (its heartbeat set to -1, so the driver gave it up at its next look), not found
    // silent after lostAfterMs; then run again and done.
    const launches = await admin("SELECT status, heartbeat_at FROM taskmachine.attempt_launches WHERE run_id = 'handed-back' AND key = 'hold' ORDER BY seq", [], p.database);
    expect(launches.map((launch) => [launch['status'], Number(launch['heartbeat_at']) === -1])).toEqual([
      ['lost', true],
      ['done', false],
    ]);
    expect(bodies(p).filter((body) => body.key === 'hold').map((body) => [body.attempt, body.pid])).toEqual([
      [1, stopped.pid],
      [1, alive.pid],
    ]);
    expect(driver.output()).toMatch(new RegExp(`taskmachine: worker \\S+:${stopped.pid}:\\w+ stopped and handed back 1 attempt of run 'handed-back'; it runs again \\(no retry used, not counted\\)`));
    const s = await stored(p, 'handed-back');
    expectComplete(s, 4);
    // A worker stopped for a deploy is not a crash: the hand-back is not counted toward maxInterruptions.
    expect(Number(s.instances.find((instance) => instance['key'] === 'hold')!['interruptions'])).toBe(0);
  }, 120_000);

  it('a second Ctrl-C of a worker hands its attempts back at once (not counted), without waiting out --grace', async () => {
    // 'hold' ignores its signal, and --grace is ten minutes: the worker exits within the test's time
    // only because the second SIGINT cuts the grace period short.
    const p = await place({ ITEMS: '2', PACE_MS: '10', HOLD_IGNORES_SIGNAL: '1' });
    const [a, b] = [start(p, ['worker', fixture, '--grace', '600000']), start(p, ['worker', fixture, '--grace', '600000'])];
    await until('both workers are up', () => a.output().includes('running attempts of') && b.output().includes('running attempts of'));
    const driver = start(p, ['run', fixture, '--executor', 'workers', '--run-id', 'twice', '--view', 'lines']);
    await until("'hold' runs on a worker", () => bodies(p).some((body) => body.key === 'hold'));
    const victim = bodies(p).find((body) => body.key === 'hold')!.pid;
    const [stopped, alive] = victim === a.pid ? [a, b] : [b, a];
    stopped.kill('SIGINT');
    await until('the worker is stopping', () => stopped.output().includes('(send SIGINT again to hand it back at once)'));
    stopped.kill('SIGINT');
    expect((await stopped.exit).code, stopped.output()).toBe(130);
    expect(stopped.output()).toContain('SIGINT again: handing back the running attempts now');
    expect(stopped.output()).toContain('1 attempt did not end before the second stop; 1 handed back to their drivers');
    await until("'hold' runs again on the other worker", () => bodies(p).filter((body) => body.key === 'hold').length === 2);
    writeFileSync(p.release, '');
    expect((await driver.exit).code, driver.output()).toBe(0);
    expect(bodies(p).filter((body) => body.key === 'hold').map((body) => body.pid)).toEqual([stopped.pid, alive.pid]);
    const s = await stored(p, 'twice');
    expectComplete(s, 2);
    expect(Number(s.instances.find((instance) => instance['key'] === 'hold')!['interruptions'])).toBe(0);
  }, 120_000);

  it('a driver killed with SIGKILL: a worker adopts its run once the lease expired and finishes it', async () => {
    const p = await place({ ITEMS: '6', PACE_MS: '10' });
    const [a, b] = [worker(p), worker(p)];
    await until('both workers are up', () => a.output().includes('running attempts of') && b.output().includes('running attempts of'));
    const driver = start(p, ['run', fixture, '--executor', 'workers', '--run-id', 'orphan', '--view', 'lines']);
    await until("'hold' runs on a worker", () => bodies(p).some((body) => body.key === 'hold'));
    driver.kill('SIGKILL');
    await driver.exit;
    // Meanwhile status says that a worker will adopt it (no command needed), and when.
    const status = spawnSync(process.execPath, [bin, 'status', 'orphan', '--store', p.url], { cwd: root, env: p.env, encoding: 'utf8' });
    expect(status.stdout.replace(/\s+/g, ' ')).toMatch(
      new RegExp(`orphaned: pid ${driver.pid} on \\S+ stopped without letting go \\(that process no longer exists\\); a worker with this flow adopts the run once its lease expires \\(in \\d+ s\\), or continue it here with: taskmachine resume orphan`),
    );
    writeFileSync(p.release, '');
    // The lease lives 30 s by default: then a worker adopts the run.
    await until('a worker drives the run', () => a.output().includes("drives run 'orphan'") || b.output().includes("drives run 'orphan'"), 120_000);
    await until('the run succeeded', async () => (await stored(p, 'orphan')).state === 'success', 60_000);
    const ran = bodies(p);
    // No finished task ran again: every body once ('hold' was running on a worker that lived on).
    expect(ran.map((body) => body.key).sort()).toEqual([...new Set(ran.map((body) => body.key))].sort());
    expectComplete(await stored(p, 'orphan'), 6);
  }, 200_000);

  it("Ctrl-C of a driver on workers lets go of the run at once (exit 130, no --grace wait); a worker takes it over and finishes it", async () => {
    const p = await place({ ITEMS: '6', PACE_MS: '10' });
    const w = worker(p);
    await until('the worker is up', () => w.output().includes('running attempts of'));
    // --grace of 10 minutes: the driver exits within the test's time only if it does not wait for it
    // (the attempts run on the worker, which does not hear 'preempt').
    const driver = start(p, ['run', fixture, '--executor', 'workers', '--run-id', 'handed', '--view', 'lines', '--grace', '600000']);
    await until("'hold' runs on the worker", () => bodies(p).some((body) => body.key === 'hold'));
    driver.kill('SIGINT');
    expect((await driver.exit).code, driver.output()).toBe(130);
    expect(driver.output().replace(/\s+/g, ' ')).toContain('SIGINT: letting go of the run — its attempts go on on the workers (send it again to exit at once)');
    expect(driver.output().replace(/\s+/g, ' ')).toContain('run handed let go of: its attempts go on on the workers, and a worker with this flow takes the run over within about 2 s. Follow it with: taskmachine status handed --store');
    for (const line of driver.output().split('\n').filter((line) => !line.includes('taskmachine '))) expect(line.length, line).toBeLessThanOrEqual(80);
    expect(driver.output()).not.toContain('running attempts get');
    writeFileSync(p.release, '');
    await until('the worker drives the run', () => w.output().includes("drives run 'handed'"));
    await until('the run succeeded', async () => (await stored(p, 'handed')).state === 'success');
    const ran = bodies(p);
    expect(ran.map((body) => body.key).sort()).toEqual([...new Set(ran.map((body) => body.key))].sort());
    expectComplete(await stored(p, 'handed'), 6);
  }, 120_000);

  it('a driver and a worker killed together: the lost attempts run again side by side on the workers, not one at a time', async () => {
    // PACE_MS of ten minutes: only the kill ends the items on the first worker.
    const p = await place({ ITEMS: '4', PACE_MS: '600000' });
    writeFileSync(p.release, '');
    const first = worker(p);
    await until('the first worker is up', () => first.output().includes('running attempts of'));
    const driver = start(p, ['run', fixture, '--executor', 'workers', '--run-id', 'both-killed', '--view', 'lines']);
    await until('the four items run on the first worker', () => bodies(p).filter((body) => body.key.startsWith('item[') && body.pid === first.pid).length === 4);
    driver.kill('SIGKILL');
    first.kill('SIGKILL');
    await Promise.all([driver.exit, first.exit]);
    // On the second worker every item waits until all four started there: they end only if they
    // run side by side. (The takeover of an unclean driver once ran each interrupted instance
    // alone — the poison-pill guard of local runs, whose bodies run in the driver; here none does.)
    const second = start(p, ['worker', fixture, '--concurrency', '8', '--no-adopt'], { PACE_MS: '10', ITEM_BARRIER: '4' });
    await until('the second worker is up', () => second.output().includes('running attempts of'));
    // (resume takes the run over at once: its driver's process is gone on this host.)
    const resumed = start(p, ['resume', 'both-killed', '--view', 'lines']);
    await until('the resumed run succeeded', async () => (await stored(p, 'both-killed')).state === 'success', 60_000);
    expect((await resumed.exit).code, resumed.output()).toBe(0);
    const again = bodies(p).filter((body) => body.key.startsWith('item[') && body.pid === second.pid);
    expect(again.map((body) => body.attempt)).toEqual([1, 1, 1, 1]);
    const s = await stored(p, 'both-killed');
    expectComplete(s, 4);
    // Lost with the killed worker: each item counted one interruption, no retry used.
    expect(s.instances.filter((instance) => String(instance['key']).startsWith('item[')).map((instance) => Number(instance['interruptions']))).toEqual([1, 1, 1, 1]);
  }, 120_000);

  it('run --detach stores the run and returns; a worker drives it to its end', async () => {
    const p = await place({ ITEMS: '3', PACE_MS: '10' });
    writeFileSync(p.release, '');
    const driver = start(p, ['run', fixture, '--executor', 'workers', '--detach', '--run-id', 'detached']);
    expect((await driver.exit).code, driver.output()).toBe(0);
    expect(driver.output()).toContain("Run 'detached' of flow 'workers' is stored; a worker drives it.");
    expect(driver.output()).not.toContain(new URL(postgres!.url).password);
    const w = worker(p);
    await until('the run succeeded', async () => (await stored(p, 'detached')).state === 'success');
    expect(w.output()).toContain("drives run 'detached'");
    // The worker drove it with the flow file's exported listeners: its listener heard the success.
    await until('the listener wrote its line', () => readFileSync(p.listenerLog, 'utf8') !== '');
    expect(readFileSync(p.listenerLog, 'utf8')).toMatch(/^detached success \d+\n$/);
    expectComplete(await stored(p, 'detached'), 3);
  }, 120_000);

  it('a worker with another definition of the flow refuses the run visibly; status says why the run is not progressing', async () => {
    const p = await place({ ITEMS: '2', PACE_MS: '10' });
    const driver = start(p, ['run', fixture, '--executor', 'workers', '--run-id', 'stale', '--view', 'lines']);
    const stale = start(p, ['worker', fixture], { FLOW_VARIANT: '2' });
    await until('the worker refuses the run', () => stale.output().includes("refusing the attempts of run 'stale'"));
    await until('the driver hears of it', () => driver.output().includes('waits for a worker'));
    const refusals = stale.output().split('\n').filter((line) => line.includes('refusing'));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatch(/its flow 'workers' has definition sha256:[0-9a-f]{12}, the run's is sha256:[0-9a-f]{12}: the flow files differ/);
    const status = spawnSync(process.execPath, [bin, 'status', 'stale', '--store', p.url], { cwd: root, env: p.env, encoding: 'utf8' });
    // ('list' and 'hold' have no upstream: both were handed to workers at once.)
    expect(status.stdout).toMatch(/Not progressing: [12] attempts? \((list#1|hold#1)(, (list#1|hold#1))?\) waits? for a worker to run (it|them):\n/);
    expect(status.stdout.replace(/\s+/g, ' ')).toContain('the flow files differ from the ones the run was started with');
    // Its prose is wrapped at spaces for an 80-column terminal (not cut mid-word by the terminal).
    const note = status.stdout.slice(status.stdout.indexOf('Not progressing'));
    for (const line of note.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    expect(status.stdout).not.toContain(new URL(postgres!.url).password);
    expect(bodies(p)).toEqual([]);
  }, 120_000);

  it('examples/scale-out.ts (docs/scale-out.md): two workers render the pages, the summary counts them per worker', async () => {
    const p = await place();
    const [a, b] = [start(p, ['worker', 'examples/scale-out.ts', '--concurrency', '8']), start(p, ['worker', 'examples/scale-out.ts', '--concurrency', '8'])];
    await until('both workers are up', () => a.output().includes('running attempts of') && b.output().includes('running attempts of'));
    const driver = start(p, ['run', 'examples/scale-out.ts', '--executor', 'workers', '--json']);
    expect((await driver.exit).code, driver.output()).toBe(0);
    const out = driver.output();
    const run = JSON.parse(out.slice(out.indexOf('{\n')));
    const perWorker = run.tasks['summary'].result as Record<string, number>;
    expect(Object.values(perWorker).reduce((x, y) => x + y, 0)).toBe(200);
    for (const key of Object.keys(perWorker)) expect([`pid ${a.pid}`, `pid ${b.pid}`]).toContain(key);
  }, 120_000);
});

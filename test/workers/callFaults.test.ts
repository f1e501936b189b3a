// `kill -9` of a worker process while an attempt on it waits for the answers of its ctx().call
// children (docs/scale-out.md, "When a process dies mid-call"), with the real CLI: a driver
// (`taskmachine run --executor workers`), a victim worker and a survivor worker, on the private
// PostgreSQL cluster, running test/fixtures/worker-call-flow.ts (`parent` calls `first`, then
// `second`; each child's body waits for a release file). Default task options (retries: 0).
//
// - The child it waits for runs on another worker: `first` already succeeded (beside the parent,
//   on the victim), `second` is stalled on the survivor. The parent's loss is an interruption (no
//   retry used), it runs again on the survivor, and its calls reuse both children: each child body
//   ran once.
// - A child runs on the dying worker too: `first` is still running beside the parent. Both
//   attempts are interruptions and run again on the survivor; the parent still gets its answers.
//
// Each time: final states, attempts and results equal an uninterrupted run's, no result is recorded
// twice. Where each attempt runs is not left to chance: the victim starts alone with
// --concurrency 1, so the parent and `first` run on it, and `first` then holds its only slot, so
// `second` can only go to the survivor. The kill comes once the side log, the parent's mark and
// the store show that moment (no timer). Every body start appends `key attempt pid` to a side log;
// the pids are printed.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { postgres, skipReason } from '../helpers/postgresTest.ts';
import { bodiesIn, until as untilWithin } from '../helpers/sideLog.ts';
import { adminQuery, databaseOfItsOwn, killAll, spawnCli, type CliChild } from '../helpers/cliChild.ts';

const fixture = 'test/fixtures/worker-call-flow.ts';
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const children: CliChild[] = [];
afterEach(() => killAll(children));

interface Place {
  readonly database: string;
  readonly url: string;
  readonly sideLog: string;
  readonly marks: string;
  readonly releaseDir: string;
  readonly env: NodeJS.ProcessEnv;
}

const admin = (text: string, values: unknown[] = [], database?: string) => adminQuery(postgres!.url, text, values, database);

/** A database of its own (the CLI uses the default schema), a side log, a marks file and a release directory. */
async function place(): Promise<Place> {
  const { database, url } = await databaseOfItsOwn(postgres!.url, 'c');
  const dir = mkdtempSync(join(tmpdir(), 'taskmachine-call-faults-'));
  dirs.push(dir);
  const sideLog = join(dir, 'side.log');
  const marks = join(dir, 'marks.log');
  const releaseDir = join(dir, 'release');
  writeFileSync(sideLog, '');
  writeFileSync(marks, '');
  mkdirSync(releaseDir);
  return { database, url, sideLog, marks, releaseDir, env: { ...process.env, NO_COLOR: '1', SIDE_LOG: sideLog, MARKS: marks, RELEASE_DIR: releaseDir } };
}

/** Lets the child's body (`first` or `second`) return, wherever it runs now or later. */
function release(p: Place, child: 'first' | 'second'): void {
  if (!existsSync(join(p.releaseDir, child))) writeFileSync(join(p.releaseDir, child), '');
}

function start(p: Place, args: string[]): CliChild {
  return spawnCli([...args, '--store', p.url], p.env, children);
}

/** Waits until `condition` holds: polled every 50 ms, for at most `ms`. */
const until = (what: string, condition: () => boolean | Promise<boolean>, ms = 90_000) => untilWithin(what, condition, ms, 50);

/** A worker, once it is up and fetching. */
async function worker(p: Place, what: string, extra: string[] = []): Promise<CliChild> {
  const w = start(p, ['worker', fixture, ...extra]);
  await until(`the ${what} is up`, () => w.output().includes('running attempts of'));
  return w;
}

const driver = (p: Place, runId: string) => start(p, ['run', fixture, '--executor', 'workers', '--run-id', runId, '--view', 'lines']);

/** key → `[attempt, pid]` of each body start, in order. */
function bodies(p: Place): Record<string, Array<[number, number]>> {
  const out: Record<string, Array<[number, number]>> = {};
  for (const body of bodiesIn(p.sideLog)) (out[body.key] ??= []).push([body.attempt, body.pid]);
  return out;
}

const ranOn = (p: Place, key: string, pid: number) => (bodies(p)[key] ?? []).some(([, on]) => on === pid);

async function stored(p: Place, runId: string) {
  const q = (text: string) => admin(text, [runId], p.database);
  const run = await q('SELECT state FROM taskmachine.runs WHERE run_id = $1');
  const instances = await q('SELECT key, state, attempt, interruptions FROM taskmachine.task_instances WHERE run_id = $1 ORDER BY key');
  const results = await q('SELECT key, attempt, value FROM taskmachine.results WHERE run_id = $1 ORDER BY write_order');
  const launches = await q('SELECT key, status, attempt, worker FROM taskmachine.attempt_launches WHERE run_id = $1 ORDER BY seq');
  return {
    state: run[0]?.['state'] as string | undefined,
    /** key → `state attempt` */
    instances: Object.fromEntries(instances.map((row) => [String(row['key']), `${String(row['state'])} ${Number(row['attempt'])}`])),
    interruptions: Object.fromEntries(instances.map((row) => [String(row['key']), Number(row['interruptions'])])),
    /** key → [`attempt value`, …]: one element unless a result was recorded twice */
    results: results.reduce<Record<string, string[]>>((out, row) => ({ ...out, [String(row['key'])]: [...(out[String(row['key'])] ?? []), `${Number(row['attempt'])} ${String(row['value'])}`] }), {}),
    /** key → `status attempt pid` of each of its launches, in launch order */
    launches: launches.reduce<Record<string, string[]>>(
      (out, row) => ({ ...out, [String(row['key'])]: [...(out[String(row['key'])] ?? []), `${String(row['status'])} ${Number(row['attempt'])} ${String(row['worker']).split(':')[1]}`] }),
      {},
    ),
  };
}

/** Whether the newest launch of `key` was given up as lost (its worker stopped heartbeating). */
async function lost(p: Place, runId: string, key: string): Promise<boolean> {
  const rows = await admin("SELECT 1 FROM taskmachine.attempt_launches WHERE run_id = $1 AND key = $2 AND status = 'lost'", [runId, key], p.database);
  return rows.length > 0;
}

let reference: Awaited<ReturnType<typeof stored>> | undefined;

/** The uninterrupted run's states, attempts and results; no result recorded twice. */
function expectAsReference(got: Awaited<ReturnType<typeof stored>>): void {
  expect(got.state).toBe('success');
  expect(got.instances).toEqual(reference!.instances);
  expect(Object.entries(got.results).filter(([, list]) => list.length > 1)).toEqual([]);
  expect(got.results).toEqual(reference!.results);
}

/**
 * Starts the run with the victim as its only worker, so the parent and `first` run there; then the
 * survivor, on which `second` runs. The victim has --concurrency 1, not the default 16: `first`
 * then holds its only slot, so `second` cannot run there (see the header).
 */
async function parentOnVictim(p: Place, runId: string) {
  const victim = await worker(p, 'victim', ['--concurrency', '1']);
  const d = driver(p, runId);
  await until("the parent and 'first' run on the victim", () => ranOn(p, 'parent', victim.pid) && ranOn(p, 'parent/first#0', victim.pid));
  const survivor = await worker(p, 'survivor');
  console.log(`${runId}: victim pid ${victim.pid}, survivor pid ${survivor.pid}`);
  await until("'second' runs on the survivor", () => ranOn(p, 'parent/second#0', survivor.pid));
  return { victim, survivor, d };
}

describe.skipIf(postgres === undefined)(`kill -9 of a worker whose attempt waits for ctx().call answers${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`, () => {
  it('uninterrupted: the reference run', async () => {
    const p = await place();
    release(p, 'first');
    release(p, 'second');
    const w = await worker(p, 'worker');
    const d = driver(p, 'reference');
    expect((await d.exit).code, d.output()).toBe(0);
    const got = await stored(p, 'reference');
    expect(got.state).toBe('success');
    expect(got.instances).toEqual({ parent: 'success 1', 'parent/first#0': 'success 1', 'parent/second#0': 'success 1' });
    expect(Object.values(got.interruptions)).toEqual([0, 0, 0]);
    expect(got.results['parent']).toHaveLength(1);
    expect(JSON.parse(got.results['parent']![0]!.slice(2)).json).toEqual({ first: 10, second: 200 });
    expect(bodies(p)).toEqual({ parent: [[1, w.pid]], 'parent/first#0': [[1, w.pid]], 'parent/second#0': [[1, w.pid]] });
    reference = got;
  }, 120_000);

  it("the child it waits for runs on another worker: the parent's loss is an interruption, and its calls on the survivor reuse both children", async () => {
    expect(reference, 'the reference run').toBeDefined();
    const p = await place();
    const runId = 'child-elsewhere';
    const { victim, survivor, d } = await parentOnVictim(p, runId);
    release(p, 'first');
    // The parent's mark: first's answer reached it on the victim; it now waits for second's.
    await until("the parent has first's answer", () => bodiesIn(p.marks).some((mark) => mark.key === 'parent:has-first' && mark.pid === victim.pid));
    victim.kill('SIGKILL');
    expect((await victim.exit).signal).toBe('SIGKILL');
    console.log(`${runId}: victim pid ${victim.pid} killed while its parent attempt waited for 'second' (stalled on pid ${survivor.pid}); 'first' had succeeded`);
    // `second` ends only once the parent's attempt was given up: it was surely still running then.
    await until("the parent's attempt is given up as lost", () => lost(p, runId, 'parent'));
    release(p, 'second');
    expect((await d.exit).code, d.output()).toBe(0);
    const got = await stored(p, runId);
    expectAsReference(got);
    // An interruption, not a failure: attempt 1 again (no retry used), counted once.
    expect(got.interruptions).toEqual({ parent: 1, 'parent/first#0': 0, 'parent/second#0': 0 });
    // The parent ran again on the survivor; each child body ran once: its second attempt's calls
    // were answered by the children its first attempt made.
    expect(bodies(p)).toEqual({
      parent: [
        [1, victim.pid],
        [1, survivor.pid],
      ],
      'parent/first#0': [[1, victim.pid]],
      'parent/second#0': [[1, survivor.pid]],
    });
    expect(got.launches).toEqual({
      parent: [`lost 1 ${victim.pid}`, `done 1 ${survivor.pid}`],
      'parent/first#0': [`done 1 ${victim.pid}`],
      'parent/second#0': [`done 1 ${survivor.pid}`],
    });
  }, 180_000);

  it('a child runs on the dying worker too: both attempts are interruptions and run again; the parent gets its answers', async () => {
    expect(reference, 'the reference run').toBeDefined();
    const p = await place();
    const runId = 'child-beside';
    const { victim, survivor, d } = await parentOnVictim(p, runId);
    // The parent waits for both answers; `first` is still running beside it (not released).
    victim.kill('SIGKILL');
    expect((await victim.exit).signal).toBe('SIGKILL');
    console.log(`${runId}: victim pid ${victim.pid} killed while its parent attempt waited for 'first' (running on it) and 'second' (stalled on pid ${survivor.pid})`);
    await until("the parent's and first's attempts are given up as lost", async () => (await lost(p, runId, 'parent')) && (await lost(p, runId, 'parent/first#0')));
    release(p, 'first');
    release(p, 'second');
    expect((await d.exit).code, d.output()).toBe(0);
    const got = await stored(p, runId);
    expectAsReference(got);
    expect(got.interruptions).toEqual({ parent: 1, 'parent/first#0': 1, 'parent/second#0': 0 });
    // `first` ran again on the survivor with its own attempt number; `second` (on the survivor
    // all along) ran once, and the parent's second attempt reused it.
    expect(bodies(p)).toEqual({
      parent: [
        [1, victim.pid],
        [1, survivor.pid],
      ],
      'parent/first#0': [
        [1, victim.pid],
        [1, survivor.pid],
      ],
      'parent/second#0': [[1, survivor.pid]],
    });
    expect(got.launches).toEqual({
      parent: [`lost 1 ${victim.pid}`, `done 1 ${survivor.pid}`],
      'parent/first#0': [`lost 1 ${victim.pid}`, `done 1 ${survivor.pid}`],
      'parent/second#0': [`done 1 ${survivor.pid}`],
    });
  }, 180_000);
});

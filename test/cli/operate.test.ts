// Operating stored runs from the terminal: send-event, resume-task --payload, clear --downstream,
// cancel, delete and prune — on a run nobody drives (applied here) and on a run a live process
// drives (applied by that process) — and every hint the CLI prints works when pasted.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteStore } from '../../src/stores/index.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'taskmachine.js');
const fixture = 'test/fixtures/event-flow.ts';
const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function place() {
  const dir = mkdtempSync(join(tmpdir(), 'taskmachine-operate-'));
  dirs.push(dir);
  // A store path that is not the default, so every printed hint must carry --store to work.
  return { db: join(dir, 'runs.db'), release: join(dir, 'release'), dir };
}

type Place = ReturnType<typeof place>;

function cli(p: Place, ...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args, ...(args.includes('--store') ? [] : ['--store', p.db])], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs a command line the CLI printed, as a person would paste it (words split like a shell). */
function paste(p: Place, line: string) {
  const words = [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
  expect(words[0]).toBe('taskmachine');
  return cli(p, ...words.slice(1));
}

async function states(p: Place, runId: string): Promise<Record<string, string>> {
  const store = sqliteStore({ path: p.db });
  try {
    const loaded = await store.loadRun(runId);
    return Object.fromEntries((loaded?.instances ?? []).map((i) => [i.key, i.state]));
  } finally {
    await store.close();
  }
}

describe('operating a run nobody drives', () => {
  it('a run waiting on people prints, per task, the command that continues it; pasted, each works', async () => {
    const p = place();
    const first = cli(p, 'run', fixture, '--run-id', 'w1', '--view', 'none');
    expect(first.code).toBe(1);
    const hints = first.stdout.trim().split('\n').map((line) => line.trim());
    expect(hints).toContain(`taskmachine send-event w1 approve --payload '<json>' --store ${p.db}`);
    expect(hints).toContain(`taskmachine resume-task w1 sign --store ${p.db}`);
    // resume-task on the deferred task is refused, pointing at send-event.
    const wrong = cli(p, 'resume-task', 'w1', 'approve');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("task instance 'approve' is deferred until an event, not checkpointed");
    expect(wrong.stderr).toContain(`taskmachine send-event w1 approve --payload '<json>' --store ${p.db}`);

    // send-event continues the run as resume-task does: approve runs, and the run waits on sign only.
    const sent = paste(p, hints.find((h) => h.includes('send-event'))!.replace("'<json>'", `'{"approved":true}'`) + ' --view none');
    expect(sent.code, sent.stderr).toBe(1);
    expect(sent.stdout.trim()).toBe(`taskmachine resume-task w1 sign --store ${p.db}`);
    expect(await states(p, 'w1')).toMatchObject({ approve: 'success', sign: 'checkpointed' });
    const signed = cli(p, 'resume-task', 'w1', 'sign', '--payload', '"ok by Ada"', '--view', 'none', '--json');
    expect(signed.code, signed.stderr).toBe(0);
    expect(JSON.parse(signed.stdout).tasks.publish.result).toBe('approved, signed: ok by Ada');
  });

  it('send-event to a task that is not waiting for an event is refused by the machine, exit 2, nothing changed', async () => {
    const p = place();
    cli(p, 'run', fixture, '--run-id', 'w2', '--view', 'none');
    const before = await states(p, 'w2');
    const refused = cli(p, 'send-event', 'w2', 'sign', '--payload', '1');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("send-event: task instance 'sign' is checkpointed, not deferred until an event.");
    expect(refused.stderr).toContain(`Continue it with: taskmachine resume-task w2 sign --store ${p.db}`);
    // An instance waiting for neither: the machine refuses the event, naming the state.
    const notWaiting = cli(p, 'send-event', 'w2', 'extract', '--payload', '1');
    expect(notWaiting.code).toBe(2);
    expect(notWaiting.stderr).toMatch(/task instance 'extract': event TRIGGER is not legal in state 'success'/);
    expect(cli(p, 'send-event', 'w2', 'approve', '--payload', '{bad').stderr).toMatch(/--payload is not valid JSON/);
    expect(await states(p, 'w2')).toEqual(before);
  });

  it('clear --downstream runs the task and everything after it again; the rest keeps its results', async () => {
    const p = place();
    cli(p, 'run', fixture, '--run-id', 'w3', '--view', 'none');
    expect(cli(p, 'send-event', 'w3', 'approve', '--payload', '{"approved":true}', '--view', 'none').code).toBe(1);
    expect(cli(p, 'resume-task', 'w3', 'sign', '--view', 'none').code).toBe(0);
    const cleared = cli(p, 'clear', 'w3', 'transform', '--downstream');
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(cleared.stdout).toMatch(/^cleared 4 task instances: transform, (approve|sign|publish), (approve|sign|publish), (approve|sign|publish)\.\nContinue the run with:\n  taskmachine resume w3 --store \S+\n$/);
    expect(await states(p, 'w3')).toMatchObject({ extract: 'success', hold: 'success', transform: 'none', approve: 'none', sign: 'none', publish: 'none' });
  });

  it('cancel of an orphaned run: the attempts the dead process left running are interrupted, the run fails cancelled', async () => {
    const p = place();
    // hold waits for a release file that never comes; the process is killed while it runs.
    const child = spawn(process.execPath, [bin, 'run', fixture, '--run-id', 'w4', '--view', 'lines', '--store', p.db], { cwd: root, env: { ...process.env, RELEASE: p.release } });
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('running hold') && resolve());
    });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('close', resolve));
    const cancelled = cli(p, 'cancel', 'w4', '--reason', 'not today');
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toBe("run 'w4': failed (cancelled).\n");
    const after = await states(p, 'w4');
    expect(after['hold']).not.toBe('running');
    const status = cli(p, 'status', 'w4');
    expect(status.stdout).toMatch(/^run w4 of flow 'events': failed \(cancelled\)\n/);
    expect(cli(p, 'cancel', 'w4').stdout).toBe("run 'w4' has ended already (failed, cancelled): nothing to cancel.\n");
  });

  it('delete: every id is checked first, so one that does not exist deletes nothing', () => {
    const p = place();
    cli(p, 'run', 'test/fixtures/input-echo.ts', '--run-id', 'keep', '--input', '1', '--view', 'none');
    const missing = cli(p, 'delete', 'keep', 'nope');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("run 'nope'");
    expect(cli(p, 'status', 'keep').code).toBe(0);
    expect(cli(p, 'delete', 'keep').stdout).toBe('deleted run keep\n');
    expect(cli(p, 'status', 'keep').code).toBe(2);
  });

  it('prune: needs an age; --dry-run lists and deletes nothing; then it deletes what ended before the age', () => {
    const p = place();
    cli(p, 'run', 'test/fixtures/input-echo.ts', '--run-id', 'old', '--input', '1', '--view', 'none');
    cli(p, 'run', 'test/fixtures/input-echo.ts', '--run-id', 'older', '--input', '2', '--view', 'none');
    expect(cli(p, 'prune', '--older-than', '1d').stdout).toBe('0 run(s) deleted\n');
    const dry = cli(p, 'prune', '--older-than', '0s', '--dry-run');
    expect(dry.stdout).toMatch(/^would delete run (old|older) \(success, last active .*\)\nwould delete run (old|older) /);
    expect(dry.stdout).toContain('2 run(s) would be deleted (dry run: nothing was)');
    expect(cli(p, 'status', 'older').code).toBe(0);
    expect(cli(p, 'prune', '--older-than', '0s').stdout).toMatch(/^deleted run (old|older)\ndeleted run (old|older)\n2 run\(s\) deleted\n$/);
    expect(cli(p, 'status').stdout).toBe(`no runs in ${p.db}\n`);
  });
});

describe('operating a run a live process drives', () => {
  // (About ten CLI processes one after another, beside the owner: more than the default 30 s on a busy machine.)
  it('send-event, resume-task --payload and clear are applied by the owner; delete is refused; cancel ends it there', { timeout: 90_000 }, async () => {
    const p = place();
    const owner = spawn(process.execPath, [bin, 'run', fixture, '--run-id', 'live', '--view', 'lines', '--store', p.db], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', RELEASE: p.release },
    });
    let out = '';
    owner.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => owner.on('close', (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    while (!((await states(p, 'live'))['sign'] === 'checkpointed' && (await states(p, 'live'))['approve'] === 'deferred')) {
      if (Date.now() > deadline) throw new Error(`the run did not reach its waiting tasks: ${out}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const sent = cli(p, 'send-event', 'live', 'approve', '--payload', '{"approved":true}');
    expect(sent.code, sent.stderr).toBe(0);
    // (Wrapped at 80 columns: compared with its line breaks as spaces.)
    const oneLine = (text: string) => text.replace(/\n\s*/g, ' ');
    expect(oneLine(sent.stdout)).toMatch(new RegExp(`^approve: deferred → scheduled \\(applied by the process driving the run: pid ${owner.pid} on `));
    const resumed = cli(p, 'resume-task', 'live', 'sign', '--payload', '"by Ada"');
    expect(resumed.code, resumed.stderr).toBe(0);
    while ((await states(p, 'live'))['publish'] !== 'success') {
      if (Date.now() > deadline + 20_000) throw new Error(`publish did not run after the event and the resume: ${out}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(JSON.parse(cli(p, 'status', 'live', '--json').stdout).tasks.publish.result).toBe('approved, signed: by Ada');
    const cleared = cli(p, 'clear', 'live', 'sign', '--downstream');
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(oneLine(cleared.stdout)).toMatch(new RegExp(`^cleared 2 task instances: sign, publish \\(applied by the process driving the run: pid ${owner.pid} on `));
    const refused = cli(p, 'delete', 'live');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`run 'live' is driven by another process: pid ${owner.pid}`);
    expect(refused.stderr).toContain('Cancel it first (taskmachine cancel live)');
    const cancel = cli(p, 'cancel', 'live', '--reason', 'enough');
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(oneLine(cancel.stdout)).toMatch(new RegExp(`^run 'live': .*cancel.* \\(applied by the process driving the run: pid ${owner.pid} on \\S+; it ends there\\)\\.`));
    for (const line of cancel.stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    expect(await exited).toBe(1);
    const final = JSON.parse(cli(p, 'status', 'live', '--json').stdout);
    expect(final).toMatchObject({ state: 'failed', reason: 'cancelled' });
    expect(final.tasks.approve).toMatchObject({ state: 'success', result: 'approved' });
    expect(final.tasks.hold).toMatchObject({ state: 'failed', error: { name: 'RunCancelledError', message: 'enough' } });
    writeFileSync(p.release, '');
  });
});

describe('send-event with a bad option', () => {
  it('is refused before the event is applied (the run would otherwise be changed and not continued)', async () => {
    const p = place();
    cli(p, 'run', fixture, '--run-id', 'opts', '--view', 'none');
    const refused = cli(p, 'send-event', 'opts', 'approve', '--payload', '{"approved":true}', '--grace', 'soon');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("send-event: --grace must be a number of ms");
    expect((await states(p, 'opts'))['approve']).toBe('deferred');
  });
});

describe('an instance deferred until a time', () => {
  it('is answered by neither resume-task nor send-event: both say it goes on by itself and name resume', async () => {
    const p = place();
    const { flow, startFlow, ctx } = await import('../../src/index.ts');
    const store = sqliteStore({ path: p.db });
    const handle = startFlow(flow('later', (f) => {
      f.task('wait', () => ctx()!.defer({ until: Date.now() + 3_600_000 }));
    }), { store, runId: 'later', log: () => {} });
    await new Promise<void>((resolve) => handle.subscribe((change) => change.state === 'deferred' && resolve()));
    await handle.shutdown({ graceMs: 0 });
    await store.close();
    for (const command of ['resume-task', 'send-event']) {
      const refused = cli(p, command, 'later', 'wait');
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toContain(`${command}: task instance 'wait' is deferred until a time, not waiting for`);
      expect(refused.stderr).toContain(`Continue the run with: taskmachine resume later --store ${p.db}`);
    }
  });
});

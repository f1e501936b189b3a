// `taskmachine logs`: a run's stored ctx().log lines, filtered by task and attempt, followed while a
// live process drives the run; and the read-only commands never create a store file.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { logsCommandWith } from '../../src/cli/commands/logs.ts';
import { commands } from '../../src/cli/commands/index.ts';
import { main } from '../../src/cli/main.ts';
import { ctx, flow, runFlow, startFlow } from '../../src/index.ts';
import { sqliteStore, type Store } from '../../src/stores/index.ts';
import { makeInstance, makeRun } from '../stores/fixtures/records.ts';

const dir = mkdtempSync(join(tmpdir(), 'taskmachine-logs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = { log: () => {} };
let stores = 0;
const newStorePath = () => join(dir, `runs-${++stores}.db`);

async function cli(args: readonly string[], list = commands) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text), cwd: dir }, list);
  return { code, stdout, stderr };
}

async function withStore<T>(path: string, work: (store: Store) => Promise<T>): Promise<T> {
  const store = sqliteStore({ path });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

const etl = flow('etl', (f) => {
  const extract = f.task(
    'extract',
    () => {
      ctx()!.log(`extract attempt ${ctx()!.attempt}`);
      if (ctx()!.attempt === 1) throw new Error('flaky');
      return ['a', 'b'];
    },
    { retries: 1 },
  );
  f.map('score', extract, ({ item }) => ctx()!.log(`scoring ${item}\nsecond line`));
  f.task('quiet', () => 'nothing logged');
});

describe('taskmachine logs <run> [task]', async () => {
  const path = newStorePath();
  await withStore(path, (store) => runFlow(etl, { store, runId: 'r1', ...quiet }));
  const logs = (...args: string[]) => cli(['logs', ...args, '--store', path]);

  it('prints every stored line, oldest first, as <time> [key#attempt] line (later lines indented)', async () => {
    const { code, stdout } = await logs('r1');
    expect(code).toBe(0);
    const lines = stdout.split('\n').filter((line) => line !== '');
    expect(lines.map((line) => line.replace(/^\d\d:\d\d:\d\d\.\d{3} /, 'T '))).toEqual([
      'T [extract#1] extract attempt 1',
      'T [extract#2] extract attempt 2',
      expect.stringMatching(/^T \[score\[\d\]#1\] scoring [ab]$/),
      expect.stringMatching(/^ {26}second line$/),
      expect.stringMatching(/^T \[score\[\d\]#1\] scoring [ab]$/),
      expect.stringMatching(/^ {26}second line$/),
    ]);
  });

  it('a task id gives all its instances; a key gives one; --attempt one attempt', async () => {
    expect((await logs('r1', 'score')).stdout.match(/scoring/g)).toHaveLength(2);
    expect((await logs('r1', 'score[1]')).stdout).toMatch(/^\S+ \[score\[1\]#1\] scoring b\n/);
    expect((await logs('r1', 'score[1]')).stdout).not.toContain('scoring a');
    const second = await logs('r1', 'extract', '--attempt', '2');
    expect(second.stdout).toMatch(/^\S+ \[extract#2\] extract attempt 2\n$/);
  });

  it('--json prints one object per line', async () => {
    const { stdout } = await logs('r1', 'extract', '--json');
    expect(stdout.trim().split('\n').map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ runId: 'r1', seq: 1, key: 'extract', taskId: 'extract', attempt: 1, line: 'extract attempt 1' }),
      expect.objectContaining({ seq: 2, attempt: 2, line: 'extract attempt 2' }),
    ]);
  });

  it('a task that logged nothing: exit 0, nothing on stdout, a note on stderr', async () => {
    expect(await logs('r1', 'quiet')).toEqual({ code: 0, stdout: '', stderr: "taskmachine: run 'r1' stored no log lines of task 'quiet'.\n" });
  });

  it("a task of the run that has no instance yet is a task, not an unknown name: no lines, exit 0", async () => {
    await withStore(path, (store) =>
      store.commit({ runId: 'early', run: makeRun('early', { flowId: 'etl', taskIds: ['extract', 'score', 'quiet'] }), instances: [{ record: makeInstance('extract') }] }),
    );
    expect(await logs('early', 'quiet')).toEqual({ code: 0, stdout: '', stderr: "taskmachine: run 'early' stored no log lines of task 'quiet'.\n" });
  });

  it('bad input exits 2 naming it: an unknown task (with a suggestion), an unknown run, a bad --attempt', async () => {
    const unknown = await logs('r1', 'extrct');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("run 'r1' has no task or task instance 'extrct'. Did you mean 'extract'?");
    expect(unknown.stderr).toContain('Its tasks: extract, score, quiet.');
    expect(await logs('nope')).toMatchObject({ code: 2, stderr: expect.stringContaining("there is no run 'nope'") });
    expect(await logs('r1', '--attempt', '0')).toMatchObject({ code: 2, stderr: expect.stringContaining("--attempt must be a whole number ≥ 1, got '0'") });
  });
});

describe('log lines go with their run', () => {
  it('taskmachine delete removes the run with its log lines and shape; other runs keep theirs', async () => {
    const path = newStorePath();
    await withStore(path, async (store) => {
      await runFlow(etl, { store, runId: 'gone', ...quiet });
      await runFlow(etl, { store, runId: 'kept', ...quiet });
    });
    expect(await cli(['delete', 'gone', '--store', path])).toMatchObject({ code: 0, stdout: 'deleted run gone\n' });
    await withStore(path, async (store) => {
      expect(await store.readTaskLogs('gone')).toEqual([]);
      expect(await store.getRunShape('gone')).toBeUndefined();
      expect((await store.readTaskLogs('kept')).length).toBe(4);
    });
  });
});

describe('taskmachine logs --follow', () => {
  it('prints lines as a live run stores them, and ends when the run ends', async () => {
    const path = newStorePath();
    const gates = [Promise.withResolvers<void>(), Promise.withResolvers<void>()];
    const tailing = flow('tail', (f) => {
      f.task('work', async () => {
        ctx()!.log('step one');
        await gates[0]!.promise;
        ctx()!.log('step two');
        await gates[1]!.promise;
        return 'done';
      });
    });
    const store = sqliteStore({ path });
    const handle = startFlow(tailing, { store, runId: 'live', ...quiet });
    const stored = async (count: number) => {
      // Waits for a condition, not for a time: the run commits a pending line within 200 ms.
      while ((await store.readTaskLogs('live')).length < count) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    await stored(1);
    const seen: string[] = [];
    let sleeps = 0;
    // Each poll of the follower moves the run on one step, so what it prints is deterministic.
    const sleep = async () => {
      sleeps += 1;
      if (sleeps === 1) {
        gates[0]!.resolve();
        await stored(2);
      } else {
        gates[1]!.resolve();
        await handle.done;
      }
    };
    const { code, stdout, stderr } = await cli(['logs', 'live', '--follow', '--store', path], [logsCommandWith({ pollMs: 1, sleep })]);
    seen.push(...stdout.trim().split('\n'));
    await store.close();
    expect(code).toBe(0);
    expect(seen.map((line) => line.replace(/^\S+ /, ''))).toEqual(['[work#1] step one', '[work#1] step two']);
    expect(stderr).toBe("taskmachine: run 'live' ended: success.\n");
    expect(sleeps).toBe(2);
  });

  it('stops at once, saying how to see what it waits for, when no live process drives the run', async () => {
    const path = newStorePath();
    const parked = flow('parked', (f) => {
      f.task('approve', () => {
        ctx()!.log('asking for approval');
        ctx()!.defer({ event: true });
      });
    });
    // As `taskmachine run` leaves it: waiting for the event, let go of (its lease released).
    await withStore(path, async (store) => {
      const handle = startFlow(parked, { store, runId: 'waits', ...quiet });
      await handle.settled();
      await handle.shutdown({ graceMs: 0 });
    });
    let sleeps = 0;
    const { code, stdout, stderr } = await cli(['logs', 'waits', '--follow', '--store', path], [logsCommandWith({ sleep: async () => void sleeps++ })]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/\[approve#1\] asking for approval\n$/);
    // Prose wrapped at 80 columns, the command whole on a line of its own.
    expect(stderr).toBe(
      `taskmachine: run 'waits' is running but no live process drives it, so no more\n` +
        `  lines will come; stopped following. What it waits for, and how to continue it:\n` +
        `  taskmachine status waits --store ${path}\n`,
    );
    expect(sleeps).toBe(0);
  });
});

describe('read-only commands never create a store', () => {
  it.each([
    ['status', []],
    ['status', ['r1']],
    ['logs', ['r1']],
    ['viz', ['run', 'r1']],
  ] as const)('%s %s --store <missing file>: exit 2 naming the file; no file or directory is created', async (command, args) => {
    const missing = join(dir, 'typo', 'runs.db');
    const { code, stderr } = await cli([command, ...args, '--store', missing]);
    expect(code).toBe(2);
    expect(stderr).toContain(`Cannot open the store file "${missing}": there is no such file, so it holds no runs (nothing was created).`);
    expect(stderr).toContain('Pass the store\'s file with --store <file>');
    expect(existsSync(join(dir, 'typo'))).toBe(false);
  });
});

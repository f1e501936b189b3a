// The flow files of `taskmachine worker`: a file given twice (overlapping globs, another spelling of
// its path) is loaded once — it used to stop the worker with startWorker's "two flows have the id"
// (exit 1); two different files whose flows share an id are a usage error naming both (exit 2),
// refused before the store is opened.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/freePort.ts';
import { databaseOfItsOwn, killAll, spawnCli, type CliChild } from '../helpers/cliChild.ts';
import { postgres, skipReason } from '../helpers/postgresTest.ts';
import { until } from '../helpers/sideLog.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'taskmachine.js');

const children: CliChild[] = [];
afterEach(() => killAll(children));

describe('taskmachine worker <flow files>', () => {
  it('two files exporting flows with one id: exit 2 naming both, before the store is opened', async () => {
    // (Nothing listens on the store's port: the refusal comes before a connection is tried.)
    const store = `postgres://tm:hunter2@127.0.0.1:${await freePort()}/app`;
    const result = spawnSync(process.execPath, [bin, 'worker', 'test/fixtures/slow-flow.ts', 'test/fixtures/same-id-flow.ts', '--store', store], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(result.stderr).toBe(
      "taskmachine: worker: 'test/fixtures/slow-flow.ts' and 'test/fixtures/same-id-flow.ts' both export a flow with the id 'slow'; a worker runs one definition per flow id.\n" +
        'Pass only one of the files, or give each flow its own id.\n',
    );
    expect(result.status).toBe(2);
  });

  it.skipIf(postgres === undefined)(`one file given twice (another spelling of its path too) is loaded once${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`, async () => {
    const { url } = await databaseOfItsOwn(postgres!.url, 'wf');
    const worker = spawnCli(
      ['worker', 'test/fixtures/slow-flow.ts', 'test/fixtures/slow-flow.ts', join(root, 'test/fixtures/../fixtures/slow-flow.ts'), '--store', url],
      { ...process.env, NO_COLOR: '1' },
      children,
    );
    await until('the worker is up, or ended', () => worker.output().includes('  from ') || worker.ended(), 60_000, 50);
    expect(worker.output()).toMatch(/^taskmachine worker \S+: running attempts of one flow, concurrency 16\n {2}slow {2}definition sha256:[0-9a-f]+\n {2}from /);
    worker.kill('SIGTERM');
    expect(await worker.exit).toEqual({ code: 143, signal: null });
  });
});

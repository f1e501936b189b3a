// `taskmachine delete` of a run whose stored record cannot be read (a damaged row): every other
// command refuses it, naming the row — delete still removes it by its whole id, so a person can get
// rid of it; a start of an id is not enough then.
import { mkdtempSync, rmSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { sqliteStore } from '../../src/stores/index.ts';
import { makeInstance, makeRun } from '../stores/fixtures/records.ts';

const dir = mkdtempSync(join(tmpdir(), 'taskmachine-delete-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text), cwd: dir });
  return { code, stdout, stderr };
}

describe('delete of a damaged run', () => {
  it('status refuses the damaged run, naming its row; delete removes it by its whole id; the rest reads again', async () => {
    const path = join(dir, 'runs.db');
    const store = sqliteStore({ path });
    for (const runId of ['ok-run', 'broken-run']) {
      await store.commit({ runId, run: makeRun(runId, { createdAt: runId === 'ok-run' ? 1_000 : 2_000 }), instances: [{ record: makeInstance('a') }] });
    }
    await store.close();
    const db = new DatabaseSync(path);
    db.prepare("UPDATE runs SET labels = '{\"json\": oops' WHERE run_id = 'broken-run'").run();
    db.close();

    const listed = await cli(['status', '--store', path]);
    expect(listed.code).toBe(2);
    expect(listed.stderr).toContain("run 'broken-run' (table runs), column labels");

    expect(await cli(['delete', 'broken', '--store', path])).toMatchObject({ code: 2 });
    const deleted = await cli(['delete', 'broken-run', '--store', path]);
    expect(deleted).toEqual({ code: 0, stdout: 'deleted run broken-run (its stored record could not be read; it was deleted by its id)\n', stderr: '' });
    const after = await cli(['status', '--store', path]);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toContain('ok-run');
    expect(after.stdout).not.toContain('broken-run');
  });
});

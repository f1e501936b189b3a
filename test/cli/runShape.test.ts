// A run keeps its own shape: `status` and `viz run` never import the flow file (its top-level code
// does not run again), and draw a run whose file moved or was deleted. A run stored before schema 4
// (no shape) falls back to the flow file, and says --flow-file when it is gone; `resume` needs the
// code and says so.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'taskmachine.js');
const dir = mkdtempSync(join(tmpdir(), 'taskmachine-shape-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const db = join(dir, 'runs.db');
const marker = join(dir, 'imports.log');
const flowFile = join(dir, 'flows', 'etl.ts');
const moved = join(dir, 'elsewhere', 'etl.ts');

/** A flow file that notes every import of it (top-level code with a side effect); `extra` adds a task. */
function writeFlowFile(file = flowFile, extra = ''): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(
    file,
    `import { appendFileSync } from 'node:fs';
import { flow } from ${JSON.stringify(pathToFileURL(join(root, 'src', 'index.ts')).href)};
appendFileSync(${JSON.stringify(marker)}, 'imported\\n');
export default flow('etl', (f) => {
  const extract = f.task('extract', () => [1, 2, 3]);
  const score = f.map('score', extract, ({ item }) => item * 2);
  f.task('report', ({ upstream }) => upstream.score.length, { after: score, trigger: 'all_done' });${extra}
});
`,
  );
}

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args, '--store', db], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const imports = (): number => readFileSync(marker, 'utf8').split('\n').filter(Boolean).length;

describe('a run keeps its own shape', () => {
  writeFlowFile();

  it('status and viz run draw the stored run without importing its flow file, even once the file is gone', () => {
    expect(cli('run', flowFile, '--run-id', 'r1', '--view', 'none').code).toBe(0);
    expect(imports()).toBe(1);
    expect(cli('status', 'r1').code).toBe(0);
    const mermaid = cli('viz', 'run', 'r1');
    expect(mermaid.code, mermaid.stderr).toBe(0);
    expect(mermaid.stdout).toContain('t1["score ×3<br/>success 3"]:::success');
    expect(mermaid.stdout).toContain('t0 --> t1');
    expect(mermaid.stdout).toContain('t1 --> t2');
    expect(imports()).toBe(1);

    mkdirSync(join(dir, 'elsewhere'), { recursive: true });
    renameSync(flowFile, moved);
    const dot = cli('viz', 'run', 'r1', '--format', 'dot');
    expect(dot.code, dot.stderr).toBe(0);
    expect(dot.stdout).toContain('digraph "etl"');
    expect(dot.stdout).toContain('t0 -> t1;');
    expect(cli('status', 'r1').stdout).toContain("run r1 of flow 'etl': success");
    expect(imports()).toBe(1);
  });

  it('resume needs the code: with the file gone it says so, names --flow-file, and the commands that still work', () => {
    const resumed = cli('resume', 'r1');
    expect(resumed.code).toBe(2);
    expect(resumed.stderr).toContain(`this command runs the flow's code (its tasks), which run 'r1' needs, but its flow file '${flowFile}' is not there any more`);
    expect(resumed.stderr).toContain('If it moved, pass its new path with --flow-file <file>.');
    expect(resumed.stderr).toContain(`'taskmachine status r1 --store ${db}' and 'taskmachine logs r1 --store ${db}' still show the run.`);
    const withFile = cli('resume', 'r1', '--flow-file', moved, '--view', 'none');
    expect(withFile.code, withFile.stderr).toBe(0);
    expect(withFile.stderr).not.toContain('note:');
    // A changed definition: resume says so, goes on with it, and the run records its shape.
    const changed = join(dir, 'changed', 'etl.ts');
    writeFlowFile(changed, "\n  f.task('archive', () => 'archived');");
    const resumed2 = cli('resume', 'r1', '--flow-file', changed, '--view', 'none');
    expect(resumed2.code, resumed2.stderr).toBe(0);
    expect(resumed2.stderr).toContain("taskmachine: note: the flow definition differs from the one run 'r1' was last driven with");
    expect(cli('viz', 'run', 'r1').stdout).toContain('t3["archive<br/>success"]:::success');
  });

  it('a run stored before schema 4 (no shape) is drawn from its flow file; gone, the error names --flow-file', () => {
    const raw = new DatabaseSync(db);
    raw.exec("DELETE FROM run_shapes WHERE run_id = 'r1'; UPDATE runs SET flow_hash = NULL WHERE run_id = 'r1'");
    raw.close();
    const before = imports();
    const gone = cli('viz', 'run', 'r1');
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain("run 'r1' was stored before runs kept their task graph, so drawing it needs its flow file");
    expect(gone.stderr).toContain('pass its new path with --flow-file <file>');
    const drawn = cli('viz', 'run', 'r1', '--flow-file', moved);
    expect(drawn.code, drawn.stderr).toBe(0);
    expect(drawn.stdout).toContain('t0 --> t1');
    expect(imports()).toBe(before + 1);
  });
});

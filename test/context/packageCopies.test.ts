// Two copies of taskmachine in one process: a CLI from one installation running a flow file whose
// `taskmachine` import resolves to another (a global CLI and a project's local dependency). A real
// second copy is made in a temporary directory (its sources, the repo's node_modules linked).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin/taskmachine.js');
let place: string;
let copy: string;

beforeAll(() => {
  place = mkdtempSync(join(tmpdir(), 'taskmachine-copies-'));
  copy = join(place, 'other-taskmachine');
  mkdirSync(copy);
  for (const dir of ['src', 'machines']) cpSync(join(root, dir), join(copy, dir), { recursive: true });
  cpSync(join(root, 'package.json'), join(copy, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir');
  // The flow file's project: its `taskmachine` is the other copy (a link: Node runs the sources
  // at their real path, outside node_modules, so it strips their types).
  mkdirSync(join(place, 'project/node_modules'), { recursive: true });
  symlinkSync(copy, join(place, 'project/node_modules/taskmachine'), 'dir');
  writeFileSync(
    join(place, 'project/flow.ts'),
    "import { ctx, flow } from 'taskmachine';\nexport default flow('two-copies', (f) => { f.task('a', () => ctx()?.taskKey); });\n",
  );
  // A program that runs that flow file's task code with this repo's runtime.
  writeFileSync(
    join(place, 'project/mixed.ts'),
    [
      `import { flow, runFlow } from ${JSON.stringify(join(root, 'src/index.ts'))};`,
      "import { ctx } from 'taskmachine';",
      "const run = await runFlow(flow('mixed', (f) => { f.task('a', () => ctx()?.taskKey); }), { log: () => {} });",
      "console.log(run.tasks['a']?.error?.message);",
    ].join('\n'),
  );
}, 60_000);

afterAll(() => {
  if (place !== undefined) rmSync(place, { recursive: true, force: true });
});

describe('two copies of taskmachine in one process', () => {
  it('the CLI refuses a flow made by another copy with one clear error naming both (exit 2)', () => {
    const result = spawnSync(process.execPath, [bin, 'run', 'flow.ts', '--store', 'memory'], {
      cwd: join(place, 'project'),
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(result.status, result.stderr).toBe(2);
    expect(result.stderr).toContain("'flow.ts' defines its flow with another copy of taskmachine than this CLI's");
    expect(result.stderr).toContain(`the one running the flow (${root}`);
    expect(result.stderr).toContain(`the one the flow file imports (${copy}`);
    expect(result.stderr).not.toContain("reading 'checkpoint'");
  });

  it('ctx() of the other copy, called in a task this copy runs, throws that error instead of returning undefined', () => {
    const result = spawnSync(process.execPath, ['mixed.ts'], { cwd: join(place, 'project'), encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('ctx() is called in a task another copy of taskmachine runs: two copies of taskmachine are loaded');
    expect(result.stdout).toContain(`the one running the flow (${root}`);
    expect(result.stdout).toContain(`the one the flow file imports (${copy}`);
  });
});

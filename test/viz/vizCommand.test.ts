// `taskmachine viz` refuses options that do not apply to what it draws, instead of ignoring them:
// a user who asked for every edge of a run, or gave a flow file for a machine, got a chart that
// silently was not the one asked for.
import { describe, expect, it } from 'vitest';
import { commands } from '../../src/cli/commands/index.ts';
import { main } from '../../src/cli/main.ts';

/** Runs `main` in-process with captured output. */
async function run(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), cwd: '/' }, commands);
  return { code, stdout, stderr };
}

describe('taskmachine viz: options that do not apply', () => {
  it('viz run --all-edges exits 2 naming the option (before opening any store)', async () => {
    expect(await run(['viz', 'run', 'nightly', '--all-edges', '--store', 'memory'])).toEqual({
      code: 2,
      stdout: '',
      stderr:
        "taskmachine: viz: --all-edges applies to 'viz machine' only: a run's graph has no summarized edges.\n" +
        "Leave out --all-edges, or draw a machine: taskmachine viz machine task-instance --all-edges. Run 'taskmachine viz --help' for its usage.\n",
    });
  });

  it('viz machine --flow-file exits 2 naming the option', async () => {
    expect(await run(['viz', 'machine', 'task-instance', '--flow-file', 'x.ts'])).toEqual({
      code: 2,
      stdout: '',
      stderr:
        "taskmachine: viz: --flow-file applies to 'viz run' only: a machine's chart is read from its definition.\n" +
        "Leave out --flow-file. Run 'taskmachine viz --help' for its usage.\n",
    });
  });

  it('viz machine --all-edges still draws', async () => {
    const { code, stdout } = await run(['viz', 'machine', 'flow-run', '--all-edges']);
    expect(code).toBe(0);
    expect(stdout).toContain('stateDiagram-v2');
  });
});

// The CLI prints the error a command ended on exactly once: not a second time when the run's own
// log line printed it already (see test/durability/damage.test.ts), and not zero times when the
// run that stopped on it was opened with a silent log (a manual change, cancel, detach).
import { describe, expect, it } from 'vitest';
import { defineCommand } from '../../src/cli/command.ts';
import { main } from '../../src/cli/main.ts';
import { flow, runFlow } from '../../src/index.ts';
import { memoryStore, StoreError } from '../../src/stores/index.ts';

describe('an error a silently logged run stopped on', () => {
  it('is printed by the CLI (exit 2), since nothing else printed it', async () => {
    const silent = defineCommand({
      name: 'silent',
      summary: 'Runs a flow with a silent log on a store that refuses every write',
      description: 'A test command.',
      args: [],
      options: {},
      async run() {
        const store = memoryStore();
        store.commit = async () => {
          throw new StoreError('the disk is full (simulated)');
        };
        await runFlow(flow('f', (f) => void f.task('a', () => 1)), { store, log: () => {} });
        return 0;
      },
    });
    let stderr = '';
    const code = await main(['silent'], { stdout: () => {}, stderr: (text) => (stderr += text), cwd: process.cwd() }, [silent]);
    expect(code).toBe(2);
    expect(stderr).toBe('taskmachine: the disk is full (simulated)\n');
  });
});

// A program that embeds taskmachine ends by itself once its run is over: the run leaves no
// referenced timer of its own behind — not after a normal end, a timeout, a cancel, nor after
// `handle.shutdown()` let go of an attempt that ignores its signal (the run's keep-alive exists only
// while it drives work). Each scenario runs in a child process (test/fixtures/library-exit.ts) that
// must exit with code 0 without calling process.exit.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = 'test/fixtures/library-exit.ts';
const dir = mkdtempSync(join(tmpdir(), 'taskmachine-exit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the scenario; resolves with its report once it printed one, and how the process ended. */
function runScenario(scenario: string): Promise<{ report: { state: string; timers: number }; exit: Promise<number | null>; kill(): void }> {
  const child = spawn(process.execPath, [fixture, scenario, join(dir, `${scenario}.db`)], { cwd: root });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n').find((text) => text.startsWith('{'));
      if (line !== undefined) resolve({ report: JSON.parse(line), exit, kill: () => child.kill('SIGKILL') });
    });
    void exit.then((code) => reject(new Error(`${scenario} exited ${code} before reporting:\n${stdout}\n${stderr}`)));
  });
}

describe('an embedding program ends by itself once its run is over', () => {
  for (const [scenario, state] of [
    ['ended', 'success'],
    ['timed-out', 'failed'],
    ['cancelled', 'failed'],
    ['shutdown', 'running'],
  ] as const) {
    it(`${scenario}: no referenced timer is left and the process exits 0 on its own`, async () => {
      const { report, exit, kill } = await runScenario(scenario);
      try {
        expect(report).toEqual({ state, timers: 0 });
        // Without timers the process can only end; the test's timeout bounds the wait.
        expect(await exit).toBe(0);
      } finally {
        kill();
      }
    });
  }
});

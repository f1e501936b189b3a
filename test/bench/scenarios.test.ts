import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The benchmark must keep running (`npm run bench` is not part of CI): every scenario, tiny sizes.
// Nothing here looks at timings.
const scenarioFile = fileURLToPath(new URL('../../bench/scenarios.ts', import.meta.url));
const scenarios = ['raw-xstate', 'raw-xstate-memo', 'independent', 'independent-otel', 'independent-otel-noop', 'layered', 'durable-memory', 'durable-sqlite-full'];

describe('bench/scenarios.ts', () => {
  it.each(scenarios)('%s runs and reports its measurements', (scenario) => {
    const out = execFileSync(process.execPath, ['--expose-gc', scenarioFile, scenario, '300'], { encoding: 'utf8' });
    const result = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(result).toMatchObject({ scenario, tasks: 300 });
    expect(result.usPerTask).toBeGreaterThan(0);
    expect(result.peakRssBytesPerTask).toBeGreaterThanOrEqual(0);
    expect(typeof result.retainedBytesPerTask).toBe('number');
    if (scenario.startsWith('durable-sqlite')) expect(result.diskBytesPerTask).toBeGreaterThan(0);
  });

  it('bench/otelCost.ts measures each mode (CPU µs per task)', () => {
    const otelCost = fileURLToPath(new URL('../../bench/otelCost.ts', import.meta.url));
    for (const mode of ['none', 'listener', 'otel-noop', 'otel-sdk']) {
      const out = execFileSync(process.execPath, [otelCost, '--mode', mode, '200', '1'], { encoding: 'utf8' });
      const samples = JSON.parse(out.trim().split('\n').at(-1)!) as number[];
      expect(samples).toHaveLength(1);
      expect(samples[0]).toBeGreaterThan(0);
    }
  });

  it('refuses an unknown scenario, naming the known ones', () => {
    expect(() => execFileSync(process.execPath, [scenarioFile, 'nope', '10'], { encoding: 'utf8', stdio: 'pipe' })).toThrow(
      /unknown scenario 'nope'/,
    );
  });
});

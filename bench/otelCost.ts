// `npm run bench:otel`: what `taskmachine/otel` costs per task, as CPU time (user + system), which
// a loaded machine disturbs far less than wall time. Each mode runs in its own process, modes
// interleaved round after round; the median and the lowest of all runs are reported.
// Modes: none · a listener with one empty hook (what any listener costs) · openTelemetry() with
// the global no-op API (the integration alone) · openTelemetry() with an SDK that records every
// span and metric (the exporter drops them).
// Usage: node bench/otelCost.ts [tasks=10000] [rounds=4]   (one mode: node bench/otelCost.ts --mode <mode> <tasks> <iterations>)
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runFlow, type Listener } from '../src/index.ts';
import { independentFlow, otelListener } from './scenarios.ts';

const MODES = ['none', 'listener', 'otel-noop', 'otel-sdk'] as const;
type Mode = (typeof MODES)[number];

async function listenersFor(mode: Mode): Promise<Listener[]> {
  if (mode === 'listener') return [{ onTaskInstanceStateChange: () => {} }];
  if (mode === 'otel-noop' || mode === 'otel-sdk') return [await otelListener(mode === 'otel-sdk')];
  return [];
}

/** Runs `iterations` flows of `tasks` no-op tasks after one warm-up; prints CPU µs per task of each. */
async function measureMode(mode: Mode, tasks: number, iterations: number): Promise<void> {
  const listeners = await listenersFor(mode);
  const samples: number[] = [];
  for (let i = 0; i <= iterations; i++) {
    const definition = independentFlow(tasks);
    const before = process.cpuUsage();
    const run = await runFlow(definition, { concurrency: 16, listeners, log: () => {} });
    const used = process.cpuUsage(before);
    if (run.state !== 'success') throw new Error(`run ended ${run.state}`);
    if (i > 0) samples.push((used.user + used.system) / tasks);
  }
  process.stdout.write(`${JSON.stringify(samples)}\n`);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--mode') {
    const mode = args[1] as Mode;
    if (!MODES.includes(mode)) throw new Error(`unknown mode '${String(mode)}'; modes: ${MODES.join(', ')}`);
    await measureMode(mode, Number(args[2] ?? 10_000), Number(args[3] ?? 5));
    return;
  }
  const tasks = Number(args[0] ?? 10_000);
  const rounds = Number(args[1] ?? 4);
  const self = fileURLToPath(import.meta.url);
  const samples = new Map<Mode, number[]>(MODES.map((mode) => [mode, []]));
  for (let round = 0; round < rounds; round++) {
    for (const mode of MODES) {
      const out = execFileSync(process.execPath, [self, '--mode', mode, String(tasks), '5'], { encoding: 'utf8' });
      samples.get(mode)!.push(...(JSON.parse(out.trim().split('\n').at(-1)!) as number[]));
    }
  }
  const base = median(samples.get('none')!);
  console.log(`CPU µs per task, ${tasks.toLocaleString('en')} no-op tasks, ${rounds} rounds × 5 runs per mode, Node ${process.version}\n`);
  console.log('| mode | median | lowest | + over none (median) |');
  console.log('|---|---:|---:|---:|');
  for (const mode of MODES) {
    const values = samples.get(mode)!;
    console.log(`| ${mode} | ${median(values).toFixed(1)} | ${Math.min(...values).toFixed(1)} | ${(median(values) - base).toFixed(1)} |`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();

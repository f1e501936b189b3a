// `npm run bench`: each scenario in its own process (so peak RSS is its own), several rounds,
// the median reported, with ratios to the raw XState baseline measured in the same run.
// Writes bench/results/latest.json and prints a Markdown table (paste it into docs/performance.md).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

interface Sample {
  scenario: string;
  tasks: number;
  tasksPerSecond: number;
  diskBytesPerTask: number | null;
  elapsedMs: number;
  usPerTask: number;
  peakRssBytesPerTask: number;
  retainedBytesPerTask: number | null;
}

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const scenarioFile = fileURLToPath(new URL('./scenarios.ts', import.meta.url));
const cases: Array<{ label: string; scenario: string; tasks: number; nodeArgs?: string[] }> = [
  { label: '(a) raw XState actor: create, start, SCHEDULE→QUEUE→START→SUCCEED', scenario: 'raw-xstate', tasks: 10_000 },
  { label: '(a) raw XState actor, 100k (memory baseline for (c) 100k)', scenario: 'raw-xstate', tasks: 100_000 },
  { label: "(a') the same actor on the memoized machine the runtime runs", scenario: 'raw-xstate-memo', tasks: 10_000 },
  { label: '(b) runFlow, 10k independent no-op tasks', scenario: 'independent', tasks: 10_000 },
  {
    label: '(b′) the same with `openTelemetry()` and no SDK (the global no-op API): the integration alone',
    scenario: 'independent-otel-noop',
    tasks: 10_000,
  },
  {
    label: '(b″) the same with `openTelemetry()` and an SDK recording every span and metric (exporter drops them)',
    scenario: 'independent-otel',
    tasks: 10_000,
  },
  { label: '(c) runFlow, layered DAG, 10k no-op tasks, 2 upstreams each', scenario: 'layered', tasks: 10_000 },
  { label: '(c) runFlow, layered DAG, 100k no-op tasks, 2 upstreams each', scenario: 'layered', tasks: 100_000 },
  {
    label: '(c) the same 100k, with `--no-allocation-site-pretenuring` (what `taskmachine run` sets)',
    scenario: 'layered',
    tasks: 100_000,
    nodeArgs: ['--no-allocation-site-pretenuring'],
  },
  { label: '(c) runFlow, layered DAG, 1M no-op tasks, 2 upstreams each', scenario: 'layered', tasks: 1_000_000 },
  { label: '(d) durable: memoryStore, 10k independent no-op tasks', scenario: 'durable-memory', tasks: 10_000 },
  { label: "(d) durable: sqliteStore 'full' (group commit), 10k no-op tasks", scenario: 'durable-sqlite-full', tasks: 10_000 },
  { label: "(d) durable: sqliteStore 'normal', 10k no-op tasks", scenario: 'durable-sqlite-normal', tasks: 10_000 },
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function measure(
  scenario: string,
  tasks: number,
  nodeArgs: readonly string[] = [],
): Sample & { peakRssRangeBytesPerTask: [number, number] } {
  const samples: Sample[] = [];
  for (let round = 0; round < rounds; round++) {
    const out = execFileSync(process.execPath, ['--expose-gc', ...nodeArgs, scenarioFile, scenario, String(tasks)], { encoding: 'utf8' });
    samples.push(JSON.parse(out.trim().split('\n').at(-1)!) as Sample);
  }
  const pick = (key: keyof Sample) => median(samples.map((s) => Number(s[key])));
  return {
    scenario,
    tasks,
    elapsedMs: pick('elapsedMs'),
    tasksPerSecond: pick('tasksPerSecond'),
    diskBytesPerTask: samples[0]!.diskBytesPerTask === null ? null : pick('diskBytesPerTask'),
    usPerTask: pick('usPerTask'),
    peakRssBytesPerTask: pick('peakRssBytesPerTask'),
    peakRssRangeBytesPerTask: [
      Math.min(...samples.map((s) => s.peakRssBytesPerTask)),
      Math.max(...samples.map((s) => s.peakRssBytesPerTask)),
    ],
    retainedBytesPerTask: samples[0]!.retainedBytesPerTask === null ? null : pick('retainedBytesPerTask'),
  };
}

const results = cases.map((c) => ({ label: c.label, flags: c.nodeArgs ?? [], ...measure(c.scenario, c.tasks, c.nodeArgs) }));
const baseline = results[0]!.usPerTask;
const layered = (tasks: number) => results.find((r) => r.scenario === 'layered' && r.tasks === tasks && r.flags.length === 0)!;
const layered10k = layered(10_000).usPerTask;
const rows = results.map((r) => ({
  ...r,
  ratioToRawXState: r.usPerTask / baseline,
}));
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
const durableMemory = rows.find((r) => r.scenario === 'durable-memory')!;
const durableFull = rows.find((r) => r.scenario === 'durable-sqlite-full')!;
const report = {
  date: new Date().toISOString(),
  machine,
  rounds,
  results: rows,
  scaling100kVs10k: layered(100_000).usPerTask / layered10k,
  scaling1MVs10k: layered(1_000_000).usPerTask / layered10k,
  sqliteFullVsMemoryStore: durableFull.tasksPerSecond / durableMemory.tasksPerSecond,
};
mkdirSync(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
writeFileSync(new URL('./results/latest.json', import.meta.url), `${JSON.stringify(report, null, 2)}\n`);

const fmt = (n: number, digits = 1) => n.toFixed(digits);
console.log(`Machine: ${machine}; median of ${rounds} rounds, each scenario in a fresh process.\n`);
console.log('| scenario | tasks | µs / task | tasks / s | × raw XState | peak RSS / task (min–max) | retained heap / task | disk / task |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.label} | ${r.tasks.toLocaleString('en')} | ${fmt(r.usPerTask)} | ${Math.round(r.tasksPerSecond).toLocaleString('en')} | ${fmt(r.ratioToRawXState, 2)} | ${fmt(r.peakRssBytesPerTask / 1024, 2)} KB (${fmt(r.peakRssRangeBytesPerTask[0] / 1024, 2)}–${fmt(r.peakRssRangeBytesPerTask[1] / 1024, 2)}) | ${r.retainedBytesPerTask === null ? 'n/a' : `${fmt(r.retainedBytesPerTask, 0)} B`} | ${r.diskBytesPerTask === null ? '-' : `${fmt(r.diskBytesPerTask, 0)} B`} |`,
  );
}
console.log(`\nPer-task cost at 100k vs 10k (layered): ${fmt(report.scaling100kVs10k, 2)}×; at 1M vs 10k: ${fmt(report.scaling1MVs10k, 2)}×`);
console.log(`Durable throughput, sqlite 'full' vs memoryStore: ${fmt(report.sqliteFullVsMemoryStore, 2)}×`);

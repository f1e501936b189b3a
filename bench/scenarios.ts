// One benchmark scenario per process, so peak RSS belongs to that scenario alone.
// Usage: node bench/scenarios.ts <scenario> <tasks>
import { createActor } from 'xstate';
import { taskInstanceMachine } from '../machines/index.ts';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flow, runFlow, type Flow } from '../src/index.ts';
import { memoryStore, sqliteStore, type Store } from '../src/stores/index.ts';

const noop = () => undefined;

export function independentFlow(tasks: number): Flow {
  return flow(`independent-${tasks}`, (f) => {
    for (let i = 0; i < tasks; i++) f.task(`t${i}`, noop);
  });
}

/** Layers of `width` tasks; every task after the first layer runs after two tasks of the layer before. */
export function layeredFlow(tasks: number, width = 100): Flow {
  return flow(`layered-${tasks}`, (f) => {
    const refs: ReturnType<typeof f.task>[] = [];
    for (let i = 0; i < tasks; i++) {
      const layer = Math.floor(i / width);
      const position = i % width;
      const after =
        layer === 0 ? [] : [refs[(layer - 1) * width + position]!, refs[(layer - 1) * width + ((position + 1) % width)]!];
      refs.push(f.task(`t${i}`, noop, { after }));
    }
  });
}

function rawXState(tasks: number): void {
  for (let i = 0; i < tasks; i++) {
    const actor = createActor(taskInstanceMachine, { input: { retries: 0 } }).start();
    actor.send({ type: 'SCHEDULE' });
    actor.send({ type: 'QUEUE' });
    actor.send({ type: 'START', attempt: 1 });
    actor.send({ type: 'SUCCEED' });
    if (actor.getSnapshot().value !== 'success') throw new Error('baseline did not reach success');
    actor.stop();
  }
}

async function main(): Promise<void> {
  const [scenario, tasksText] = process.argv.slice(2);
  const tasks = Number(tasksText);
  if (!scenario || !Number.isInteger(tasks) || tasks <= 0) {
    throw new Error('usage: node bench/scenarios.ts <raw-xstate|independent|layered> <tasks>');
  }
  const rssBefore = process.memoryUsage.rss();
  let definition: Flow | undefined;
  let store: Store | undefined;
  let dbDir: string | undefined;
  if (scenario === 'independent') definition = independentFlow(tasks);
  else if (scenario === 'layered') definition = layeredFlow(tasks);
  else if (scenario === 'durable-memory') {
    definition = independentFlow(tasks);
    store = memoryStore();
  } else if (scenario === 'durable-sqlite-full' || scenario === 'durable-sqlite-normal') {
    definition = independentFlow(tasks);
    dbDir = mkdtempSync(join(tmpdir(), 'taskmachine-bench-'));
    store = sqliteStore({ path: join(dbDir, 'bench.db'), durability: scenario.endsWith('full') ? 'full' : 'normal' });
  } else if (scenario !== 'raw-xstate') throw new Error(`unknown scenario '${scenario}'`);
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const started = performance.now();
  let keep: unknown;
  if (definition === undefined) {
    rawXState(tasks);
  } else {
    const run = await runFlow(definition, { concurrency: 16, ...(store ? { store, runId: 'bench' } : {}) });
    if (run.state !== 'success') throw new Error(`run ended ${run.state} (${run.reason})`);
    keep = run;
  }
  const elapsedMs = performance.now() - started;
  const peakRssKb = process.resourceUsage().maxRSS;
  gc?.();
  // What stays in memory per finished task: the run record and the runtime's compact records
  // (the flow definition was allocated before `heapBefore`).
  const retainedBytesPerTask = gc ? (process.memoryUsage().heapUsed - heapBefore) / tasks : null;
  void keep;
  let diskBytesPerTask: number | null = null;
  if (store !== undefined) await store.close();
  if (dbDir !== undefined) {
    const bytes = readdirSync(dbDir).reduce((sum, file) => sum + statSync(join(dbDir!, file)).size, 0);
    diskBytesPerTask = bytes / tasks;
    rmSync(dbDir, { recursive: true, force: true });
  }
  const result = {
    scenario,
    tasksPerSecond: tasks / (elapsedMs / 1000),
    diskBytesPerTask,
    tasks,
    elapsedMs,
    usPerTask: (elapsedMs * 1000) / tasks,
    peakRssBytesPerTask: Math.max(0, peakRssKb * 1024 - rssBefore) / tasks,
    retainedBytesPerTask,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();

// One benchmark scenario per process, so peak RSS belongs to that scenario alone.
// Usage: node bench/scenarios.ts <scenario> <tasks>
import { createActor } from 'xstate';
import { taskInstanceMachine } from '../machines/index.ts';
import { taskInstanceLogic } from '../src/runtime/lifecycle/memoizedMachine.ts';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flow, runFlow, type Flow, type Listener } from '../src/index.ts';
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

/** Drives `tasks` actors none → success, each created and stopped; `memoized` runs them on the machine the runtime uses. */
function rawXState(tasks: number, memoized = false): void {
  const logic = memoized ? taskInstanceLogic : taskInstanceMachine;
  for (let i = 0; i < tasks; i++) {
    const actor = createActor(logic, { input: { retries: 0 } }).start();
    actor.send({ type: 'SCHEDULE' });
    actor.send({ type: 'QUEUE' });
    actor.send({ type: 'START', attempt: 1 });
    actor.send({ type: 'SUCCEED' });
    if (actor.getSnapshot().value !== 'success') throw new Error('baseline did not reach success');
    actor.stop();
  }
}

/**
 * `taskmachine/otel` for the otel scenarios, loaded only there (the other scenarios must not pay
 * for its modules). `sdk`: a tracer provider whose spans are recorded, processed one by one and
 * dropped by the exporter, a meter provider with a reader (so metrics aggregate), the async-hooks
 * context manager — what an application with an SDK pays, minus the network. Otherwise the global
 * no-op API: the integration's own cost.
 */
export async function otelListener(sdk: boolean): Promise<Listener> {
  const { openTelemetry } = await import('../src/otel/index.ts');
  if (!sdk) return openTelemetry();
  const { context } = await import('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
  const { BasicTracerProvider, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const { MeterProvider, MetricReader } = await import('@opentelemetry/sdk-metrics');
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  class Discard {
    export(_spans: unknown[], done: (result: { code: 0 }) => void): void {
      done({ code: 0 });
    }
    async shutdown(): Promise<void> {}
  }
  class Reader extends MetricReader {
    protected override async onForceFlush(): Promise<void> {}
    protected override async onShutdown(): Promise<void> {}
  }
  const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new Discard())] }).getTracer('bench');
  const meter = new MeterProvider({ readers: [new Reader()] }).getMeter('bench');
  return openTelemetry({ tracer, meter });
}

async function main(): Promise<void> {
  const [scenario, tasksText] = process.argv.slice(2);
  const tasks = Number(tasksText);
  if (!scenario || !Number.isInteger(tasks) || tasks <= 0) {
    throw new Error(
      'usage: node bench/scenarios.ts <raw-xstate|raw-xstate-memo|independent|independent-otel|independent-otel-noop|layered|durable-memory|durable-sqlite-full|durable-sqlite-normal> <tasks>',
    );
  }
  const rssBefore = process.memoryUsage.rss();
  let definition: Flow | undefined;
  let store: Store | undefined;
  let dbDir: string | undefined;
  let listeners: Listener[] = [];
  if (scenario === 'independent') definition = independentFlow(tasks);
  else if (scenario === 'independent-otel' || scenario === 'independent-otel-noop') {
    definition = independentFlow(tasks);
    listeners = [await otelListener(scenario === 'independent-otel')];
  }
  else if (scenario === 'layered') definition = layeredFlow(tasks);
  else if (scenario === 'durable-memory') {
    definition = independentFlow(tasks);
    store = memoryStore();
  } else if (scenario === 'durable-sqlite-full' || scenario === 'durable-sqlite-normal') {
    definition = independentFlow(tasks);
    dbDir = mkdtempSync(join(tmpdir(), 'taskmachine-bench-'));
    store = sqliteStore({ path: join(dbDir, 'bench.db'), durability: scenario.endsWith('full') ? 'full' : 'normal' });
  } else if (scenario !== 'raw-xstate' && scenario !== 'raw-xstate-memo') throw new Error(`unknown scenario '${scenario}'`);
  // No forced GC before the run: the garbage of building the definition is part of what an
  // embedding process pays (a forced GC here lowered the 100k peak by ~0.3 KB/task).
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  // The run record lives in `keep` only (a block-scoped const would stay in the async frame).
  let keep: unknown;
  if (definition === undefined) {
    rawXState(tasks, scenario === 'raw-xstate-memo');
  } else {
    keep = await runFlow(definition, { concurrency: 16, ...(store ? { store, runId: 'bench' } : {}), ...(listeners.length > 0 ? { listeners } : {}) });
    const { state, reason } = keep as Awaited<ReturnType<typeof runFlow>>;
    if (state !== 'success') throw new Error(`run ended ${state} (${reason})`);
  }
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const peakRssKb = process.resourceUsage().maxRSS;
  // What stays in memory per finished task: the run record (and a memory store's data), measured
  // as the heap it frees once dropped — after the peak, so the measuring cannot change the peak.
  const gc = (globalThis as { gc?: () => void }).gc;
  let retainedBytesPerTask: number | null = null;
  if (gc !== undefined) {
    gc();
    const withRun = process.memoryUsage().heapUsed;
    keep = undefined;
    const closing = store;
    store = undefined;
    if (closing !== undefined && dbDir === undefined) await closing.close();
    // A suspended async frame can still hold the last awaited value (the record) in a register
    // until it awaits something else.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    retainedBytesPerTask = (withRun - process.memoryUsage().heapUsed) / tasks;
    if (closing !== undefined && dbDir !== undefined) store = closing;
  }
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
    // CPU time (user + system) of the measured part: steadier than wall time on a shared machine.
    cpuUsPerTask: (cpu.user + cpu.system) / tasks,
    peakRssBytesPerTask: Math.max(0, peakRssKb * 1024 - rssBefore) / tasks,
    retainedBytesPerTask,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();

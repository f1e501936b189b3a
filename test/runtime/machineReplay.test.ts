/**
 * The task-instance machine's generated edge paths, replayed through the runtime.
 *
 * For every definition edge, `pathTests` gives the shortest event path that ends with it. Each path
 * is turned into a script — what the task function does on each attempt (return, throw, SkipTask,
 * FailTask, TaskCheckpointed, ctx().defer, ctx().reschedule), which timers to let fire, and which
 * handle calls to make (clear, setState, resumeTask, sendEvent) — and run with `startFlow`. The
 * state sequence the runtime reports must equal the path's. Edges that only a handle call reaches
 * are reported as manual. A scripted readiness gate takes the GATE_FAIL edges and holds instances
 * at rest in `queued`. REMOVE and the edges out of `removed` are taken by resuming a stored run with
 * a definition the task has left. The few edges the local runtime cannot take are listed with the
 * reason each cannot happen here.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { taskInstanceMachine, type TaskInstanceEvent, type TaskInstanceState } from '../../machines/index.ts';
import { createTestClock } from '../../src/clock.ts';
import { ctx, defineGate, FailTask, flow, RetryableError, SkipTask, startFlow, TaskCheckpointed } from '../../src/index.ts';
import { memoryStore } from '../../src/stores/index.ts';
import { machineEdges, pathTests, taskInstanceEvents, type EdgeCase } from '../../src/testing/index.ts';
import { instrument } from '../durability/fixtures/storeChecks.ts';

type Machine = typeof taskInstanceMachine;

// Every lifecycle event but REMOVE (a resume with a changed definition removes), INTERRUPT (a
// shutdown or crash interrupts; both replayed below) and the deferral timeout (its next start
// fails at once, which the generated paths do not model).
const events = (snapshot: { context: { attempt: number } }): TaskInstanceEvent[] =>
  taskInstanceEvents(snapshot).filter(
    (event) => event.type !== 'REMOVE' && event.type !== 'INTERRUPT' && !(event.type === 'TRIGGER' && event.timedOut),
  );

/** Events a handle call makes (the others the runtime takes by itself). */
const MANUAL = new Set(['CLEAR', 'SET_STATE']);
/** Why the local runtime cannot take an edge: each is a fact about running in one process. */
const NOT_LOCAL: Record<string, string> = {
  'running →START[isCurrentAttempt]→ running':
    'the duplicate start of a running attempt is for a remote worker that retries its start; the local executor starts each attempt once',
  'scheduled →CLEAR→ none': 'the local runtime queues an instance in the same scheduler turn it schedules it, so no handle call finds it scheduled',
  'scheduled →SET_STATE[isManualTarget(state=success)]→ success': 'scheduled is never at rest between scheduler turns locally',
  'scheduled →SET_STATE[isManualTarget(state=failed)]→ failed': 'scheduled is never at rest between scheduler turns locally',
  'scheduled →SET_STATE[isManualTarget(state=skipped)]→ skipped': 'scheduled is never at rest between scheduler turns locally',
  'restarting →CLEAR→ none': 'clear() abandons the running attempt at once (no zombie is awaited), so restarting is left in the same call',
  'restarting →SET_STATE[isManualTarget(state=success)]→ success': 'restarting is left in the same clear() call locally',
  'restarting →SET_STATE[isManualTarget(state=failed)]→ failed': 'restarting is left in the same clear() call locally',
  'restarting →SET_STATE[isManualTarget(state=skipped)]→ skipped': 'restarting is left in the same clear() call locally',
};

/** Edges of removal, with what the resumed run reports for `t` after its handle call (if any). */
const REMOVAL: Record<string, { call?: (handle: ReturnType<typeof startFlow>) => void; expected: string[] }> = {
  'none →REMOVE→ removed': { expected: ['removed'] },
  // A cleared instance of a task that left the definition cannot run: it is removed again.
  'removed →CLEAR→ none': { call: (h) => h.clear('t'), expected: ['removed', 'none', 'removed'] },
  'removed →SET_STATE[isManualTarget(state=success)]→ success': { call: (h) => h.setState('t', 'success'), expected: ['removed', 'success'] },
  'removed →SET_STATE[isManualTarget(state=failed)]→ failed': { call: (h) => h.setState('t', 'failed'), expected: ['removed', 'failed'] },
  'removed →SET_STATE[isManualTarget(state=skipped)]→ skipped': { call: (h) => h.setState('t', 'skipped'), expected: ['removed', 'skipped'] },
};

function unreachableReason(label: string): string {
  return NOT_LOCAL[label] ?? 'NOT EXPECTED';
}

const suite = pathTests(taskInstanceMachine, {
  input: { retries: 1 },
  events,
  serializeState: (s) => JSON.stringify([s.value, s.context.maxAttempts - s.context.attempt]),
});

const taken = { automatic: new Set<string>(), manual: new Set<string>() };

/** What the task function does on one attempt: the event that ends its running state. */
function attemptScript(path: EdgeCase<Machine>): Array<TaskInstanceEvent | 'block'> {
  const script: Array<TaskInstanceEvent | 'block'> = [];
  path.steps.forEach((step, index) => {
    if (step.event.type !== 'START' || step.before.value !== 'queued') return;
    const next = path.steps[index + 1]?.event;
    script.push(next === undefined || MANUAL.has(next.type) ? 'block' : next);
  });
  return script;
}

async function replay(path: EdgeCase<Machine>): Promise<string[]> {
  const clock = createTestClock(1_000_000);
  const first = path.steps[0]!.event.type;
  const script = attemptScript(path);
  let call = 0;
  // A scripted readiness gate decides each queued attempt: pass (START next), fail (GATE_FAIL),
  // or hold the instance at rest in `queued` (a handle call comes next).
  const gateScript = path.steps
    .map((step, index) => (step.event.type === 'QUEUE' ? path.steps[index + 1]?.event : null))
    .filter((next) => next !== null);
  let gateCall = 0;
  const gate = defineGate({
    name: 'scripted',
    prepare: async (ti) => {
      if (ti.key !== 't') return;
      const next = gateScript[gateCall++];
      if (next?.type === 'GATE_FAIL') throw next.retryable ? new RetryableError('gate says later') : new Error('gate says no');
      if (next === undefined || next.type !== 'START') await new Promise(() => {});
    },
  });
  const definition = flow('replay', (f) => {
    const up = f.task('up', () => {
      if (first === 'UPSTREAM_FAILED') throw new FailTask('upstream fails');
      if (first === 'SKIP') throw new SkipTask();
      return 'up';
    });
    const after = first === 'UPSTREAM_FAILED' || first === 'SKIP' ? [up] : [];
    f.task('t', () => {
      const action = script[call++] ?? 'block';
      if (action === 'block') return new Promise(() => {});
      switch (action.type) {
        case 'SUCCEED':
          return 'ok';
        case 'FAIL':
          if (action.failFast) throw new FailTask('fail fast');
          throw new Error('retryable failure');
        case 'SKIP':
          throw new SkipTask();
        case 'DEFER':
          return ctx()!.defer({ until: clock.now() + 1_000 });
        case 'RESCHEDULE':
          return ctx()!.reschedule(1_000);
        case 'CHECKPOINT':
          throw new TaskCheckpointed({ at: call });
        default:
          throw new Error(`no script for ${action.type}`);
      }
    }, { after, retries: 1, retryDelay: 1_000, resumeAfter: 1_000 });
  });
  const handle = startFlow(definition, { clock, concurrency: 1, gates: [gate], log: () => {} });
  const observed: string[] = [];
  handle.subscribe((change) => {
    if (change.taskInstance.key === 't') observed.push(change.state);
  });
  const expected = path.steps.map((step) => String(step.after.value));
  for (const [index, step] of path.steps.entries()) {
    if (MANUAL.has(step.event.type)) {
      // At index 0 the run has not taken its first turn yet: `t` is still `none`.
      if (index > 0) await clock.flush();
      expect(handle.taskInstance('t')!.state).toBe(step.before.value as TaskInstanceState);
      if (step.event.type === 'CLEAR') handle.clear('t');
      else if (step.event.type === 'SET_STATE') handle.setState('t', step.event.state);
    }
    // Let timers fire (retry delay, poke, deferral, auto-resume) until this step has happened.
    for (let guard = 0; observed.length <= index && guard < 20; guard++) {
      await clock.flush();
      if (observed.length <= index) await clock.advance(1_000);
    }
  }
  handle.cancel();
  return observed.slice(0, expected.length);
}

describe('generated edge paths replayed through the runtime', () => {
  for (const edgeCase of suite.edges) {
    const label = edgeCase.edge.label;
    if (label in NOT_LOCAL) continue;
    it(`${label} (${edgeCase.pathName})`, async () => {
      const observed = await replay(edgeCase);
      expect(observed).toEqual(edgeCase.steps.map((step) => step.after.value));
      const manual = edgeCase.steps.some((step) => MANUAL.has(step.event.type)) &&
        MANUAL.has(edgeCase.steps.at(-1)!.event.type);
      (manual ? taken.manual : taken.automatic).add(label);
    });
  }

  for (const [label, { call, expected }] of Object.entries(REMOVAL)) {
    it(`${label} (a resume with a definition that lost the task)`, async () => {
      const store = memoryStore();
      // First: \`t\` waits behind \`hold\`, which waits for an event. An instance is stored once it
      // has moved: \`t\` is set and cleared by hand, so the store has it in \`none\`.
      const before = flow('replay-removal', (f) => {
        const hold = f.task('hold', () => ctx()!.defer({ event: true }));
        f.task('t', () => 't', { after: [hold] });
      });
      const first = startFlow(before, { store, runId: 'r', log: () => {} });
      await first.settled();
      first.setState('t', 'success');
      first.clear('t');
      await first.shutdown();
      expect(first.taskInstance('t')!.state).toBe('none');
      // Then the definition no longer has \`t\`: the resumed run removes it.
      const after = flow('replay-removal', (f) => void f.task('hold', () => ctx()!.defer({ event: true })));
      const second = startFlow(after, { store, runId: 'r', resume: true, log: () => {} });
      const observed: string[] = [];
      second.subscribe((change) => {
        if (change.taskInstance.key === 't') observed.push(change.state);
      });
      await second.ready();
      call?.(second);
      expect(observed).toEqual(expected);
      second.cancel();
      (call === undefined ? taken.automatic : taken.manual).add(label);
    });
  }

  /** INTERRUPT, graceful: a shutdown ends a running attempt (it throws when its signal is aborted). */
  const STOP = 'running →INTERRUPT[isGracefulStop]→ scheduled';
  it(`${STOP} (a graceful shutdown interrupts a running attempt; not counted, even with maxInterruptions 0)`, async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const definition = flow('replay-stop', (f) => {
      f.task('t', () => {
        started();
        const { signal } = ctx()!;
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('stopped'))));
      }, { maxInterruptions: 0 });
    });
    const handle = startFlow(definition, { log: () => {} });
    const observed: string[] = [];
    handle.subscribe((change) => observed.push(change.state));
    await running;
    await handle.shutdown({ graceMs: 60_000 });
    expect(observed).toEqual(['scheduled', 'queued', 'running', 'scheduled']);
    taken.automatic.add(STOP);
  });

  /** INTERRUPT, counted: the process died with the attempt running; the resume interrupts it. */
  const CRASH: Record<string, { maxInterruptions: number; expected: string }> = {
    'running →INTERRUPT[canRunAgainAfterInterruption]→ scheduled': { maxInterruptions: 3, expected: 'scheduled' },
    'running →INTERRUPT[else]→ failed': { maxInterruptions: 0, expected: 'failed' },
  };
  for (const [label, { maxInterruptions, expected }] of Object.entries(CRASH)) {
    it(`${label} (a resume after a crash interrupts the attempt the dead process left running)`, async () => {
      const inner = memoryStore();
      const { store, crash } = instrument(inner);
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      let blocked = true;
      const definition = flow('replay-crash', (f) => {
        f.task('t', () => {
          if (!blocked) return 'done';
          started();
          return new Promise(() => {});
        }, { maxInterruptions });
      });
      const first = startFlow(definition, { store, runId: 'r', log: () => {} });
      await running;
      await first.persisted();
      crash();
      first.cancel('the process died');
      blocked = false;
      // (The dead process's lease is released by hand: a crash on another host would wait for its expiry.)
      const lease = await inner.getLease('r');
      await inner.releaseLease(lease!, Date.now());
      const second = startFlow(definition, { store: inner, runId: 'r', resume: true, log: () => {} });
      const observed: string[] = [];
      second.subscribe((change) => change.taskInstance.key === 't' && observed.push(change.state));
      await second.done;
      expect(observed[0]).toBe(expected);
      taken.automatic.add(label);
    });
  }

  afterAll(() => {
    const all = machineEdges(taskInstanceMachine).map((edge) => edge.label);
    const manualOnly = all.filter((label) => taken.manual.has(label) && !taken.automatic.has(label));
    const untaken = all.filter((label) => !taken.manual.has(label) && !taken.automatic.has(label));
    console.log(
      `[runtime replay] task-instance machine: ${all.length} edges; ${taken.automatic.size} taken by the runtime on its own, ` +
        `${manualOnly.length} only through handle calls (clear/setState), ${untaken.length} not taken:\n` +
        untaken.map((label) => `  - ${label}: ${unreachableReason(label)}`).join('\n'),
    );
  });

  it('every edge is replayed, except the ones the local runtime cannot take, each with its reason', () => {
    const all = machineEdges(taskInstanceMachine).map((edge) => edge.label);
    const replayed = new Set([
      ...suite.edges.map((edgeCase) => edgeCase.edge.label).filter((label) => !(label in NOT_LOCAL)),
      ...Object.keys(REMOVAL),
      STOP,
      ...Object.keys(CRASH),
    ]);
    const unexplained = all.filter((label) => !replayed.has(label) && unreachableReason(label) === 'NOT EXPECTED');
    expect(unexplained).toEqual([]);
    expect([...Object.keys(NOT_LOCAL), ...Object.keys(REMOVAL), STOP, ...Object.keys(CRASH)].filter((label) => !all.includes(label))).toEqual([]);
    // What is left out, so the list cannot grow silently.
    expect(all.filter((label) => !replayed.has(label))).toEqual(Object.keys(NOT_LOCAL).sort((a, b) => all.indexOf(a) - all.indexOf(b)));
  });
});

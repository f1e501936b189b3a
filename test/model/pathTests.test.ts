import { and, assign, createActor, not, setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { flowRunMachine, taskInstanceMachine } from '../../machines/index.ts';
import {
  assertFullCoverage,
  CoverageError,
  formatCoverage,
  formatEvent,
  machineEdges,
  machineStates,
  mergeCoverage,
  pathTests,
  taskInstanceStateKey,
  TraversalLimitError,
} from '../../src/testing/index.ts';
import { taskInstanceEvents } from './taskInstanceSpec.ts';

type LightEvent = { type: 'NEXT' } | { type: 'BREAK'; hard: boolean } | { type: 'FIX' } | { type: 'PING' };

/** A small machine with every kind of branch: named, parameterized, inline, combined, else. */
const light = setup({
  types: { context: {} as { breaks: number }, events: {} as LightEvent },
  guards: {
    isHard: ({ event }) => event.type === 'BREAK' && event.hard,
    below: ({ context }, params: { max: number }) => context.breaks < params.max,
  },
  actions: { noop: () => {} },
}).createMachine({
  id: 'light',
  initial: 'green',
  context: () => ({ breaks: 0 }),
  states: {
    green: {
      on: {
        NEXT: 'yellow',
        PING: { actions: 'noop' },
        BREAK: [
          // Contradictory on purpose: this branch can never be taken.
          { guard: and(['isHard', not('isHard')]), target: 'dead' },
          { guard: { type: 'below', params: { max: 2 } }, target: 'broken', actions: assign({ breaks: ({ context }) => context.breaks + 1 }) },
          { target: 'dead' },
        ],
      },
    },
    yellow: { on: { NEXT: 'red' } },
    red: { on: { NEXT: 'green' } },
    broken: { on: { FIX: 'green' } },
    dead: {},
    unreachable: { on: { FIX: 'green' } },
  },
});

const lightEvents: LightEvent[] = [
  { type: 'NEXT' },
  { type: 'PING' },
  { type: 'BREAK', hard: false },
  { type: 'BREAK', hard: true },
  { type: 'FIX' },
];

describe('machineEdges / machineStates', () => {
  it('lists one edge per source, event and branch, with readable labels', () => {
    expect(machineEdges(light).map((edge) => edge.label)).toEqual([
      'green →NEXT→ yellow',
      'green →PING→ green',
      'green →BREAK[and(isHard, not(isHard))]→ dead',
      'green →BREAK[below(max=2)]→ broken',
      'green →BREAK[else]→ dead',
      'yellow →NEXT→ red',
      'red →NEXT→ green',
      'broken →FIX→ green',
      'unreachable →FIX→ green',
    ]);
    const ping = machineEdges(light)[1]!;
    expect(ping).toMatchObject({ id: 'light.green:1', targets: [], actions: ['noop'], branch: 0 });
    expect(machineEdges(light)[4]).toMatchObject({ branch: 2, fallback: true, guard: undefined });
    expect(machineStates(light)).toEqual(['green', 'yellow', 'red', 'broken', 'dead', 'unreachable']);
  });

  it('counts the lifecycle machines', () => {
    expect(machineEdges(taskInstanceMachine)).toHaveLength(76);
    expect(machineEdges(taskInstanceMachine).filter((edge) => edge.eventType === 'SET_STATE')).toHaveLength(39);
    expect(machineEdges(flowRunMachine)).toHaveLength(27);
  });

  it('names nested states by dot path', () => {
    const nested = setup({}).createMachine({
      id: 'nested',
      initial: 'a',
      states: { a: { initial: 'x', states: { x: { on: { GO: 'y' } }, y: { on: { UP: '#nested.b' } } } }, b: {} },
    });
    expect(machineStates(nested)).toEqual(['a', 'a.x', 'a.y', 'b']);
    expect(machineEdges(nested).map((edge) => edge.label)).toEqual(['a.x →GO→ a.y', 'a.y →UP→ b']);
    const suite = pathTests(nested, { events: [{ type: 'GO' }, { type: 'UP' }] });
    expect(formatCoverage(suite)).toBe('nested: 4/4 states, 2/2 edges');
    expect(suite.paths.map((path) => path.name)).toEqual(['a.x →GO→ a.y →UP→ b']);
  });
});

describe('pathTests', () => {
  const suite = pathTests(light, { events: lightEvents });

  it('reports what it could not reach, by name', () => {
    expect(suite.coverage.uncoveredStates).toEqual(['unreachable']);
    expect(suite.coverage.uncoveredEdges.map((edge) => edge.label)).toEqual([
      'green →BREAK[and(isHard, not(isHard))]→ dead',
      'unreachable →FIX→ green',
    ]);
    let error: unknown;
    try {
      assertFullCoverage(suite);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CoverageError);
    expect((error as CoverageError).message).toBe(
      [
        'light: 1 of 6 states unreachable, 2 of 9 edges uncovered.',
        'Unreachable states: unreachable',
        'Uncovered edges:',
        '  - green →BREAK[and(isHard, not(isHard))]→ dead  (light.green:2)',
        '  - unreachable →FIX→ green  (light.unreachable:0)',
        'Fix: add the events (with payloads that pass the guards) to the `events` option, add inputs that reach them, or remove the dead states and transitions from the machine.',
      ].join('\n'),
    );
  });

  it('gives one case per covered edge, whose last step takes that edge', () => {
    expect(suite.edges.map((edgeCase) => edgeCase.name)).toEqual(
      suite.coverage.coveredEdges.map((edge) => edge.label),
    );
    for (const edgeCase of suite.edges) {
      expect(edgeCase.steps.at(-1)!.edges).toContain(edgeCase.edge);
      expect(edgeCase.name).toBe(edgeCase.edge.label);
    }
    const broken = suite.edges.find((edgeCase) => edgeCase.name === 'broken →FIX→ green')!;
    expect(broken.pathName).toBe('green →BREAK(hard=false)→ broken →FIX→ green');
  });

  it('enumerates maximal simple paths by default, every prefix with allowDuplicatePaths', () => {
    // The context (breaks) is part of the default vertex key: green{0}, green{1}, green{2} differ.
    expect(suite.paths).toHaveLength(15);
    expect(suite.paths[0]!.name).toBe('green →NEXT→ yellow →NEXT→ red');
    expect(suite.paths.map((path) => path.name)).toContain(
      'green →BREAK(hard)→ broken →FIX→ green →BREAK(hard=false)→ broken →FIX→ green →BREAK(hard)→ dead',
    );
    expect(new Set(suite.paths.map((path) => path.name)).size).toBe(suite.paths.length);
    const all = pathTests(light, { events: lightEvents, allowDuplicatePaths: true });
    expect(all.paths[0]!.steps).toEqual([]);
    expect(all.paths.length).toBeGreaterThan(suite.paths.length);
    const short = pathTests(light, { events: lightEvents, maxPathLength: 1 });
    expect(Math.max(...short.paths.map((path) => path.steps.length))).toBe(1);
  });

  it('computes every step from the previous one, even when serializeState merges snapshots', () => {
    // Vertices are (state, attempts left, …): different attempt numbers share a vertex, yet each
    // path must replay exactly, START payload included.
    const coarse = pathTests(taskInstanceMachine, {
      input: { retries: 2, maxInterruptions: 1 },
      events: taskInstanceEvents,
      serializeState: taskInstanceStateKey,
    });
    for (const path of [...coarse.paths, ...coarse.edges, ...coarse.vertices.map((vertex) => vertex.path)]) {
      let previous = path.initial;
      for (const step of path.steps) {
        expect(step.before).toBe(previous);
        previous = step.after;
      }
      const actor = createActor(taskInstanceMachine, { input: { retries: 2, maxInterruptions: 1 } }).start();
      path.run((step) => {
        expect(actor.getSnapshot().can(step.event)).toBe(true);
        actor.send(step.event);
        expect(actor.getSnapshot().context).toEqual(step.after.context);
      });
    }
  });

  it('appends the failing step and the path to an error thrown by the driver', async () => {
    const path = suite.paths.find((candidate) => candidate.steps.length === 4)!;
    expect(path.name).toBe('green →BREAK(hard=false)→ broken →FIX→ green →NEXT→ yellow →NEXT→ red');
    expect(() =>
      path.run((step) => {
        if (step.index === 2) throw new Error('boom');
      }),
    ).toThrow(`boom\n\nFailed at step 2 of 4: broken →FIX→ green\nPath: ${path.name}`);
    await expect(
      path.runAsync(async (step) => {
        if (step.index === 3) throw new Error('late');
      }),
    ).rejects.toThrow(`late\n\nFailed at step 3 of 4: green →NEXT→ yellow\nPath: ${path.name}`);
    // An edge case is named after its edge but reports its whole path.
    const fix = suite.edges.find((edgeCase) => edgeCase.name === 'broken →FIX→ green')!;
    expect(() =>
      fix.run(() => {
        throw new Error('nope');
      }),
    ).toThrow('nope\n\nFailed at step 1 of 2: green →BREAK(hard=false)→ broken\nPath: green →BREAK(hard=false)→ broken →FIX→ green');
  });

  it('throws TraversalLimitError, with the fix, for an unbounded context', () => {
    const counter = setup({ types: { context: {} as { n: number }, events: {} as { type: 'INC' } } }).createMachine({
      id: 'counter',
      context: () => ({ n: 0 }),
      on: { INC: { actions: assign({ n: ({ context }) => context.n + 1 }) } },
    });
    expect(() => pathTests(counter, { events: [{ type: 'INC' }], limit: 50 })).toThrow(TraversalLimitError);
    expect(() => pathTests(counter, { events: [{ type: 'INC' }], limit: 50 })).toThrow(/serializeState/);
    const bounded = pathTests(counter, {
      events: [{ type: 'INC' }],
      serializeState: (snapshot) => String(Math.min(snapshot.context.n, 3)),
    });
    expect(bounded.paths.map((path) => path.steps.length)).toEqual([3]);
    expect(formatCoverage(bounded)).toBe('counter: 0/0 states, 1/1 edges');
    expect(() =>
      pathTests(taskInstanceMachine, {
        input: { retries: 2 },
        events: taskInstanceEvents,
        serializeState: taskInstanceStateKey,
        maxPaths: 100,
      }),
    ).toThrow(/visited more than 100 paths and prefixes of paths/);
  });

  it('merges coverage across inputs and refuses to mix machines', () => {
    const byRetries = [0, 1].map((retries) =>
      pathTests(taskInstanceMachine, {
        input: { retries },
        events: taskInstanceEvents,
        serializeState: taskInstanceStateKey,
        maxPathLength: 0,
      }),
    );
    expect(byRetries[0]!.coverage.uncoveredEdges.map((edge) => edge.label)).toEqual([
      'queued →GATE_FAIL[canRetryGateFailure]→ up_for_retry',
      'running →FAIL[canRetryFailedAttempt]→ up_for_retry',
    ]);
    expect(formatCoverage(mergeCoverage(...byRetries))).toBe('taskInstance: 14/14 states, 76/76 edges');
    expect(() => mergeCoverage(byRetries[0]!, suite)).toThrow(/cannot merge coverage of 'light' into 'taskInstance'/);
  });
});

describe('formatEvent', () => {
  it('writes the payload after the type', () => {
    expect(formatEvent({ type: 'QUEUE' })).toBe('QUEUE');
    expect(formatEvent({ type: 'START', attempt: 2 } as { type: string })).toBe('START(attempt=2)');
    expect(formatEvent({ type: 'FAIL', failFast: true } as { type: string })).toBe('FAIL(failFast)');
    expect(formatEvent({ type: 'GATE_FAIL', retryable: false } as { type: string })).toBe('GATE_FAIL(retryable=false)');
    expect(formatEvent({ type: 'X', data: { a: 1 } } as { type: string })).toBe('X(data={"a":1})');
  });
});

import fc from 'fast-check';
import { createActor, type SnapshotFrom } from 'xstate';
import { describe, expect, it } from 'vitest';
import { taskInstanceMachine, type TaskInstanceEvent } from '../../machines/index.ts';
import { applyEvent } from '../../src/runtime/lifecycle/applyEvent.ts';
import { formatEvent, machineEdges, pathTests, taskInstanceStateKey } from '../../src/testing/index.ts';
import { specStep } from './spec.ts';
import {
  initialTaskModel,
  taskInstanceEvents,
  taskInstanceSpec,
  taskStates,
  type TaskModel,
} from './taskInstanceSpec.ts';

/**
 * fast-check model-based test: random sequences of random events (with random payloads) against a
 * live actor, for random `retries` 0..3. Each run starts with the shortest graph path to a random
 * vertex (so runs begin everywhere in the lifecycle, not only in `none`), then random commands.
 * Only events the machine accepts run (`check` is `snapshot.can(event)`); after each one the
 * invariants below must hold and the actor must agree with the hand-written spec. Seeded, so a
 * run is reproducible; a failure prints the shrunk counterexample.
 */

type Snapshot = SnapshotFrom<typeof taskInstanceMachine>;
type Actor = ReturnType<typeof createActor<typeof taskInstanceMachine>>;

/** From DESIGN §3, written out rather than imported. */
const finished = new Set(['success', 'failed', 'skipped', 'upstream_failed', 'removed']);

interface Model {
  snapshot: Snapshot;
  retries: number;
  cleared: boolean;
  spec: TaskModel;
}

/** A START's attempt: an absolute number, or relative to the current attempt (mostly accepted). */
type StartPayload = { kind: 'absolute'; attempt: number } | { kind: 'relative'; offset: number };

class EventCommand implements fc.Command<Model, Actor> {
  private readonly make: (snapshot: Snapshot) => TaskInstanceEvent;
  private readonly text: string;

  constructor(make: (snapshot: Snapshot) => TaskInstanceEvent, text: string) {
    this.make = make;
    this.text = text;
  }

  check(model: Readonly<Model>): boolean {
    return model.snapshot.can(this.make(model.snapshot));
  }

  run(model: Model, actor: Actor): void {
    const event = this.make(model.snapshot);
    const { before, after } = applyEvent(actor, event, 'task instance');
    const from = String(before.value);
    const to = String(after.value);

    // Finished states are left only by a person: CLEAR or SET_STATE.
    if (finished.has(from) && to !== from) expect(['CLEAR', 'SET_STATE']).toContain(event.type);
    // The finished tag matches the finished set.
    expect(after.hasTag('finished'), `finished tag in ${to}`).toBe(finished.has(to));
    expect(after.hasTag('unfinished'), `unfinished tag in ${to}`).toBe(!finished.has(to));
    // Attempts never exceed the budget; without a clear, never more than retries + 1.
    if (event.type === 'CLEAR') model.cleared = true;
    expect(after.context.attempt).toBeLessThanOrEqual(after.context.maxAttempts);
    if (!model.cleared) expect(after.context.attempt).toBeLessThanOrEqual(model.retries + 1);
    // Only SCHEDULE and RETRY start a new attempt, exactly one each; POKE, TRIGGER, RESUME and
    // everything else keep the attempt number.
    const added = event.type === 'SCHEDULE' || event.type === 'RETRY' ? 1 : 0;
    expect(after.context.attempt, `attempt after ${formatEvent(event)}`).toBe(before.context.attempt + added);

    // And the actor agrees with the spec table.
    const outcome = specStep(taskInstanceSpec, model.spec, event);
    expect(outcome.legal, `spec accepts ${formatEvent(event)} in ${model.spec.state}`).toBe(true);
    if (outcome.legal) {
      expect({ state: to, ...after.context }).toEqual(outcome.next);
      model.spec = outcome.next;
    }
    model.snapshot = after;
    visitedStates.add(to);
    for (const transition of taskInstanceMachine.getTransitionData(before, event)) takenEdges.add(transition);
  }

  toString(): string {
    return this.text;
  }
}

const command = (event: TaskInstanceEvent) => new EventCommand(() => event, formatEvent(event));

/** START mostly for the current attempt (accepted in queued), sometimes stale, early or arbitrary. */
const startCommand = fc
  .oneof(
    { weight: 3, arbitrary: fc.constant<StartPayload>({ kind: 'relative', offset: 0 }) },
    { weight: 1, arbitrary: fc.constantFrom<StartPayload>({ kind: 'relative', offset: -1 }, { kind: 'relative', offset: 1 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 6 }).map((attempt): StartPayload => ({ kind: 'absolute', attempt })) },
  )
  .map((payload) =>
    payload.kind === 'absolute'
      ? command({ type: 'START', attempt: payload.attempt })
      : new EventCommand(
          (snapshot) => ({ type: 'START', attempt: snapshot.context.attempt + payload.offset }),
          `START(attempt=current${payload.offset ? (payload.offset > 0 ? '+1' : '-1') : ''})`,
        ),
  );

/** Every lifecycle event type, drawn equally often, with random payloads. */
const lifecycleCommand = fc.oneof(
  ...(
    [
      'SCHEDULE',
      'UPSTREAM_FAILED',
      'SKIP',
      'REMOVE',
      'QUEUE',
      'SUCCEED',
      'RESCHEDULE',
      'CHECKPOINT',
      'RETRY',
      'POKE',
      'RESUME',
      'STOPPED',
      'INTERRUPT',
    ] as const
  ).map((type) => fc.constant(command({ type }))),
  fc.constant(command({ type: 'INTERRUPT', graceful: true })),
  startCommand,
  fc.boolean().map((retryable) => command({ type: 'GATE_FAIL', retryable })),
  fc.option(fc.boolean(), { nil: undefined }).map((failFast) =>
    command(failFast === undefined ? { type: 'FAIL' } : { type: 'FAIL', failFast }),
  ),
  fc.option(fc.boolean(), { nil: undefined }).map((awaitEvent) =>
    command(awaitEvent === undefined ? { type: 'DEFER' } : { type: 'DEFER', awaitEvent }),
  ),
  fc
    .record({ timedOut: fc.option(fc.boolean(), { nil: undefined }), byEvent: fc.option(fc.boolean(), { nil: undefined }) })
    .map(({ timedOut, byEvent }) =>
      command({ type: 'TRIGGER', ...(timedOut === undefined ? {} : { timedOut }), ...(byEvent === undefined ? {} : { byEvent }) }),
    ),
);

/** CLEAR and SET_STATE are legal almost everywhere; drawn less often so runs get deep. */
const manualCommand = fc.oneof(
  fc.constant(command({ type: 'CLEAR' })),
  fc.constantFrom('success', 'failed', 'skipped' as const).map((state) => command({ type: 'SET_STATE', state })),
);

const commands = [
  fc.oneof({ weight: 6, arbitrary: lifecycleCommand }, { weight: 1, arbitrary: manualCommand }),
];

/** For each retries 0..3, a shortest path to every vertex of the graph (no simple paths needed). */
const prefixes = [0, 1, 2, 3].map((retries) =>
  pathTests(taskInstanceMachine, {
    input: { retries },
    events: taskInstanceEvents,
    serializeState: taskInstanceStateKey,
    maxPathLength: 0,
  }).vertices.map(({ path }) => ({
    path,
    [fc.toStringMethod]: () => `prefix ${path.name}`,
  })),
);

const runStart = fc
  .integer({ min: 0, max: 3 })
  .chain((retries) => fc.tuple(fc.constant(retries), fc.constantFrom(...prefixes[retries]!)));

const visitedStates = new Set<string>();
const takenEdges = new Set<unknown>();

describe('taskInstanceMachine under random event sequences (fast-check)', () => {
  it('keeps the lifecycle invariants and agrees with the spec', () => {
    fc.assert(
      fc.property(runStart, fc.commands(commands, { maxCommands: 100, size: 'max' }), ([retries, prefix], cmds) => {
        const setup = () => {
          const actor = createActor(taskInstanceMachine, { input: { retries } }).start();
          visitedStates.add(String(actor.getSnapshot().value));
          const model: Model = { snapshot: actor.getSnapshot(), retries, cleared: false, spec: initialTaskModel(retries) };
          // The prefix goes through the same checks as the random commands.
          for (const step of prefix.path.steps) command(step.event).run(model, actor);
          return { model, real: actor };
        };
        fc.modelRun(setup, cmds);
      }),
      { seed: 20_260_301, numRuns: 1_000 },
    );
  });

  it('reaches every state and takes every edge over the runs', () => {
    const edges = machineEdges(taskInstanceMachine);
    const covered = edges.filter((edge) => takenEdges.has(edge.transition)).length;
    console.log(
      `[fast-check] taskInstanceMachine: ${visitedStates.size}/${taskStates.length} states, ` +
        `${covered}/${edges.length} edges visited over 1,000 random runs` +
          edges.filter((edge) => !takenEdges.has(edge.transition)).map((edge) => `; not visited: ${edge.label}`).join(""),
    );
    expect(taskStates.filter((state) => !visitedStates.has(state))).toEqual([]);
    expect(edges.filter((edge) => !takenEdges.has(edge.transition)).map((edge) => edge.label)).toEqual([]);
  });
});

import { createActor, type AnyMachineSnapshot, type AnyStateMachine, type EventFromLogic, type InputFrom, type SnapshotFrom } from 'xstate';
import { describe, expect, it } from 'vitest';
import { applyEvent } from '../../src/runtime/lifecycle/applyEvent.ts';
import {
  assertFullCoverage,
  formatEvent,
  machineEdges,
  mergeCoverage,
  pathTests,
  type PathCase,
  type PathTestSuite,
} from '../../src/testing/index.ts';
import { rowLabel, specStep, type Spec, type SpecRow } from './spec.ts';

export interface ModelSuiteVariant<TMachine extends AnyStateMachine, TModel> {
  /** Names the describe block, e.g. `retries=1`. */
  readonly label: string;
  readonly input: InputFrom<TMachine>;
  readonly initialModel: TModel;
}

export interface ModelSuiteConfig<TMachine extends AnyStateMachine, TModel extends { state: string }> {
  readonly title: string;
  readonly machine: TMachine;
  readonly spec: Spec<TModel, EventFromLogic<TMachine>>;
  readonly variants: readonly ModelSuiteVariant<TMachine, TModel>[];
  readonly events: (snapshot: SnapshotFrom<TMachine>) => readonly EventFromLogic<TMachine>[];
  readonly serializeState?: (snapshot: SnapshotFrom<TMachine>) => string;
  /** The machine snapshot in the spec's model shape (state + the context the spec tracks). */
  readonly project: (snapshot: SnapshotFrom<TMachine>) => TModel;
  /** Written next to the counts, e.g. the bound used. */
  readonly bound: string;
}

type Row<TMachine extends AnyStateMachine, TModel extends { state: string }> = SpecRow<TModel, EventFromLogic<TMachine>>;

/**
 * Registers the generated model tests of one machine: per input variant one test per definition
 * edge, one per spec row the machine lacks, one per simple path; then the coverage checks. Every
 * step is checked against the spec: the set of accepted events, the chosen branch, the state and
 * the context the spec tracks.
 */
export function defineModelSuite<TMachine extends AnyStateMachine, TModel extends { state: string }>(
  config: ModelSuiteConfig<TMachine, TModel>,
): void {
  type Event = EventFromLogic<TMachine>;
  type Snapshot = SnapshotFrom<TMachine>;
  const { machine, spec } = config;
  const edgeByTransition = new Map(machineEdges(machine).map((edge) => [edge.transition, edge]));
  const machineLabels = new Set(machineEdges(machine).map((edge) => edge.label));
  const suites = config.variants.map((variant) => ({
    variant,
    suite: pathTests(machine, {
      input: variant.input,
      events: config.events,
      ...(config.serializeState ? { serializeState: config.serializeState } : {}),
    }),
  }));

  /** Every candidate event is accepted by the machine exactly when the spec accepts it. */
  const checkLegality = (snapshot: Snapshot, model: TModel) => {
    const problems: string[] = [];
    for (const event of config.events(snapshot)) {
      const machineAccepts = (snapshot as { can(e: Event): boolean }).can(event);
      const outcome = specStep(spec, model, event);
      if (machineAccepts && !outcome.legal) {
        problems.push(`the machine accepts ${formatEvent(event)}, the spec rejects it`);
      } else if (!machineAccepts && outcome.legal) {
        problems.push(`the spec accepts ${formatEvent(event)} (${rowLabel(outcome.row)}), the machine rejects it`);
      }
    }
    if (problems.length) {
      throw new Error(`In ${describeModel(model)}: ${problems.join('; ')}.`);
    }
  };

  /** Sends `event` to the live actor and compares branch, state and context with the spec. */
  const stepAndCheck = (actor: ReturnType<typeof start>, model: TModel, event: Event): TModel => {
    const before = actor.getSnapshot() as Snapshot;
    checkLegality(before, model);
    const outcome = specStep(spec, model, event);
    if (!outcome.legal) throw new Error(`In ${describeModel(model)}: the spec rejects ${formatEvent(event)}.`);
    const chosen = (machine.getTransitionData(before, event) as unknown[]).map(
      (transition) => edgeByTransition.get(transition as never)?.label ?? '(unknown transition)',
    );
    applyEvent(actor, event, `${config.title} (${describeModel(model)})`);
    const after = actor.getSnapshot() as Snapshot;
    expect({ branch: chosen.join(' & '), ...config.project(after) }, `after ${formatEvent(event)} in ${describeModel(model)}`).toEqual({
      branch: rowLabel(outcome.row),
      ...outcome.next,
    });
    return outcome.next;
  };

  const start = (input: InputFrom<TMachine>) => createActor(machine, { input } as never).start();

  /** Replays `path` on a live actor, checking every step against the spec. */
  const replay = (variant: ModelSuiteVariant<TMachine, TModel>, path: PathCase<TMachine>, extra?: Event) => {
    const actor = start(variant.input);
    let model = variant.initialModel;
    expect(config.project(actor.getSnapshot() as Snapshot), 'initial snapshot').toEqual(model);
    path.run((step) => {
      model = stepAndCheck(actor, model, step.event);
      // The live actor also agrees with the snapshot the traversal computed.
      expect((actor.getSnapshot() as AnyMachineSnapshot).value).toEqual((step.after as AnyMachineSnapshot).value);
    });
    if (extra) model = stepAndCheck(actor, model, extra);
    actor.stop();
  };

  /** Spec rows whose transition the machine does not have, with a vertex where the row applies. */
  const missingRows = (suite: PathTestSuite<TMachine>, variant: ModelSuiteVariant<TMachine, TModel>) => {
    const found: Array<{ row: Row<TMachine, TModel>; path: PathCase<TMachine>; event: Event }> = [];
    const missing = spec.rows.filter((row) => !row.knownDeviation && !machineLabels.has(rowLabel(row)));
    for (const row of missing) {
      for (const vertex of suite.vertices) {
        const model = modelAfter(spec, variant.initialModel, vertex.path);
        const event = model && config.events(vertex.state).find((e) => {
          const outcome = specStep(spec, model, e);
          return outcome.legal && outcome.row === row;
        });
        if (event) {
          found.push({ row, path: vertex.path, event });
          break;
        }
      }
    }
    return found;
  };

  describe(config.title, () => {
    for (const { variant, suite } of suites) {
      describe(variant.label, () => {
        describe('edges', () => {
          for (const edgeCase of suite.edges) {
            it(edgeCase.name, () => {
              if (!spec.rows.some((row) => rowLabel(row) === edgeCase.name && !row.knownDeviation)) {
                throw new Error(`The machine has the transition ${edgeCase.name}; the spec does not allow it.`);
              }
              replay(variant, edgeCase);
            });
          }
          for (const { row, path, event } of missingRows(suite, variant)) {
            it(rowLabel(row), () => replay(variant, path, event));
          }
        });
        describe('paths', () => {
          for (const path of suite.paths) it(path.name, () => replay(variant, path));
        });
      });
    }

    it('reaches every state and takes every edge of the machine (100% coverage)', () => {
      const coverage = mergeCoverage(...suites.map(({ suite }) => suite));
      const edgeCases = suites.reduce((sum, { suite }) => sum + suite.edges.length, 0);
      const pathCases = suites.reduce((sum, { suite }) => sum + suite.paths.length, 0);
      const vertices = suites.map(({ suite }) => suite.vertices.length).join('/');
      const inputs = suites.map(({ variant }) => variant.label).join(', ');
      console.log(
        `[model] ${config.title}: ${coverage.coveredStates.length}/${coverage.states.length} states, ` +
          `${coverage.coveredEdges.length}/${coverage.edges.length} edges covered; ${edgeCases} edge cases + ` +
          `${pathCases} path cases for ${inputs} (${config.bound}; ${vertices} vertices)`,
      );
      assertFullCoverage(coverage);
    });

    it('has exactly the transitions of the spec', () => {
      const specLabels = new Set(spec.rows.filter((row) => !row.knownDeviation).map(rowLabel));
      const extra = [...machineLabels].filter((label) => !specLabels.has(label));
      const missing = [...specLabels].filter((label) => !machineLabels.has(label));
      expect({ extra, missing }, 'machine edges not in the spec / spec rows not in the machine').toEqual({
        extra: [],
        missing: [],
      });
    });

    for (const row of spec.rows.filter((r) => r.knownDeviation)) {
      it.fails(`known deviation (reported): ${rowLabel(row)} — ${row.knownDeviation}`, () => {
        expect(machineLabels.has(rowLabel(row))).toBe(true);
      });
    }
  });
}

/** The spec's model after replaying `path`, or undefined if the spec rejects one of its steps. */
function modelAfter<TModel extends { state: string }, TEvent extends { type: string }>(
  spec: Spec<TModel, TEvent>,
  initial: TModel,
  path: { steps: readonly { event: TEvent }[] },
): TModel | undefined {
  let model = initial;
  for (const step of path.steps) {
    const outcome = specStep(spec, model, step.event);
    if (!outcome.legal) return undefined;
    model = outcome.next;
  }
  return model;
}

function describeModel(model: { state: string }): string {
  const { state, ...rest } = model as Record<string, unknown>;
  const facts = Object.entries(rest)
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(' ');
  return `${String(state)} {${facts}}`;
}

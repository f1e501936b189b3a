import type { PublishedValues } from '../decorators/systemContext.ts';
import type { FlowGraph } from './graph.ts';
import type { TriggerRule } from './triggerRules.ts';
import type { TaskDefinition, TaskFn, TaskKind, TaskOptions, TaskRef } from './types.ts';

export const NO_INDICES: readonly number[] = Object.freeze([]);
export const EMPTY_HINTS: Readonly<Record<string, unknown>> = Object.freeze({});
/** Shared by every task whose decorators publish nothing at definition time (no Map per task). */
export const NOTHING_PUBLISHED: PublishedValues = new Map();

/** The settings part of a task definition: most tasks of a flow have the same, so they share it. */
export type TaskSettings = Pick<
  TaskDefinition,
  | 'trigger'
  | 'retries'
  | 'retryDelay'
  | 'retryBackoff'
  | 'maxRetryDelay'
  | 'timeout'
  | 'resumeAfter'
  | 'maxInterruptions'
  | 'hints'
  | 'setup'
  | 'decorators'
  | 'published'
>;

const settingsCache = new Map<string, Readonly<TaskSettings>>();

/** What a task without settings options gets (most tasks of a large generated flow). */
export const DEFAULT_SETTINGS: Readonly<TaskSettings> = Object.freeze({
  trigger: 'all_success',
  retries: 0,
  retryDelay: 0,
  retryBackoff: 1,
  maxRetryDelay: Number.POSITIVE_INFINITY,
  timeout: undefined,
  resumeAfter: undefined,
  maxInterruptions: undefined,
  hints: EMPTY_HINTS,
  setup: false,
  decorators: Object.freeze([]) as unknown as TaskSettings['decorators'],
  published: NOTHING_PUBLISHED,
});

export function hasDefaultSettings(options: TaskOptions): boolean {
  return (
    options.trigger === undefined &&
    options.retries === undefined &&
    options.retryDelay === undefined &&
    options.retryBackoff === undefined &&
    options.maxRetryDelay === undefined &&
    options.timeout === undefined &&
    options.resumeAfter === undefined &&
    options.maxInterruptions === undefined &&
    options.hints === undefined &&
    options.setup === undefined
  );
}

/**
 * One frozen settings object per distinct combination of plain settings (tasks with hints,
 * decorators or published values keep their own): a 100k-task flow where every task has the
 * defaults holds one settings object, not 100k.
 */
export function sharedSettings(settings: TaskSettings): Readonly<TaskSettings> {
  if (settings.hints !== EMPTY_HINTS || settings.decorators.length > 0 || settings.published !== NOTHING_PUBLISHED) {
    return Object.freeze(settings);
  }
  const key = `${settings.trigger}|${settings.retries}|${settings.retryDelay}|${settings.retryBackoff}|${settings.maxRetryDelay}|${settings.timeout}|${settings.resumeAfter}|${settings.maxInterruptions}|${settings.setup}`;
  let shared = settingsCache.get(key);
  if (shared === undefined) {
    if (settingsCache.size >= 1024) settingsCache.clear();
    shared = Object.freeze({ ...settings });
    settingsCache.set(key, shared);
  }
  return shared;
}

/**
 * A compiled task: its identity and graph position, and its settings read through from the
 * (usually shared) settings object. Frozen once its downstream list is known.
 */
export class CompiledTask implements TaskDefinition, TaskRef<any> {
  readonly id: string;
  readonly kind: TaskKind;
  readonly flowId: string;
  readonly index: number;
  readonly fn: TaskFn;
  #mapOver: number;
  readonly #settings: Readonly<TaskSettings>;
  #graph: FlowGraph | undefined = undefined;

  constructor(
    id: string,
    kind: TaskKind,
    flowId: string,
    index: number,
    fn: TaskFn,
    settings: Readonly<TaskSettings>,
    mapOver: number,
  ) {
    this.id = id;
    this.kind = kind;
    this.flowId = flowId;
    this.index = index;
    this.fn = fn;
    this.#settings = settings;
    this.#mapOver = mapOver;
    // It is also the task's reference, handed to the build function: frozen from the start.
    Object.freeze(this);
  }

  /** Gives the task its flow's graph (and a forward `map` its list), once every task is known. */
  static attach(task: CompiledTask, graph: FlowGraph, mapOver: number = task.#mapOver): void {
    task.#graph = graph;
    task.#mapOver = mapOver;
  }

  /** For a mapped task: the index of the task whose result list it maps over; otherwise -1. */
  get mapOver(): number {
    return this.#mapOver;
  }

  /** A new frozen array each time; the runtime reads the flow's graph directly. */
  get upstream(): readonly number[] {
    return this.#graph === undefined ? NO_INDICES : this.#graph.upstreamOf(this.index);
  }
  /** A new frozen array each time; the runtime reads the flow's graph directly. */
  get downstream(): readonly number[] {
    return this.#graph === undefined ? NO_INDICES : this.#graph.downstreamOf(this.index);
  }

  get trigger(): TriggerRule {
    return this.#settings.trigger;
  }
  get retries(): number {
    return this.#settings.retries;
  }
  get retryDelay(): number {
    return this.#settings.retryDelay;
  }
  get retryBackoff(): number {
    return this.#settings.retryBackoff;
  }
  get maxRetryDelay(): number {
    return this.#settings.maxRetryDelay;
  }
  get timeout(): number | undefined {
    return this.#settings.timeout;
  }
  get resumeAfter(): number | undefined {
    return this.#settings.resumeAfter;
  }
  get maxInterruptions(): number | undefined {
    return this.#settings.maxInterruptions;
  }
  get hints(): Readonly<Record<string, unknown>> {
    return this.#settings.hints;
  }
  get setup(): boolean {
    return this.#settings.setup;
  }
  get decorators(): TaskSettings['decorators'] {
    return this.#settings.decorators;
  }
  get published(): PublishedValues {
    return this.#settings.published;
  }

  /** The plain fields, for `JSON.stringify` and logging. */
  toJSON(): Omit<TaskDefinition, 'fn' | 'published'> {
    const { published: _published, ...settings } = this.#settings;
    return { id: this.id, index: this.index, kind: this.kind, ...settings, upstream: this.upstream, downstream: this.downstream, mapOver: this.#mapOver };
  }
}

import { isAbsolute, resolve } from 'node:path';
import { flowRunMachine, taskInstanceMachine, type FlowRunEvent, type ManualTaskInstanceState, type TaskInstanceEvent } from '../../machines/index.ts';
import { applyChange } from '../operate/control.ts';
import { onPausedRun } from '../operate/pausedRun.ts';
import { loadFlowModule, type FlowModule } from '../operate/loadFlow.ts';
import { IllegalTransitionError, RunNotFoundError } from '../errors.ts';
import type { Flow } from '../flow/types.ts';
import { applyEvent } from '../runtime/lifecycle/applyEvent.ts';
import { startFlow } from '../runtime/runFlow.ts';
import { EXECUTOR_LABEL } from '../runtime/settings.ts';
import type { ControlRequestWrite, Store, StoredRun, StoredTaskInstance } from '../stores/index.ts';

/**
 * An action the page offers on a task instance or a run.
 *
 * @example
 * ```ts
 * const action: UiAction = 'clear-downstream';
 * ```
 */
export type UiAction = 'resume-task' | 'send-event' | 'set-success' | 'set-failed' | 'set-skipped' | 'clear' | 'clear-downstream' | 'cancel';

/**
 * Whether an action may be taken now and, when not, why (the machine's own words).
 *
 * @example
 * ```ts
 * { action: 'send-event', label: 'Send event', allowed: false, reason: "the task instance machine does not accept TRIGGER in state 'success'; …" }
 * ```
 */
export interface ActionAvailability {
  readonly action: UiAction;
  readonly label: string;
  readonly allowed: boolean;
  readonly reason: string | undefined;
}

const instanceActions: ReadonlyArray<{ action: UiAction; label: string; event: TaskInstanceEvent }> = [
  { action: 'resume-task', label: 'Resume', event: { type: 'RESUME' } },
  { action: 'send-event', label: 'Send event', event: { type: 'TRIGGER', byEvent: true } },
  { action: 'set-success', label: 'Mark success', event: { type: 'SET_STATE', state: 'success' } },
  { action: 'set-failed', label: 'Mark failed', event: { type: 'SET_STATE', state: 'failed' } },
  { action: 'set-skipped', label: 'Mark skipped', event: { type: 'SET_STATE', state: 'skipped' } },
  { action: 'clear', label: 'Clear', event: { type: 'CLEAR' } },
  { action: 'clear-downstream', label: 'Clear with downstream', event: { type: 'CLEAR' } },
];

/** The machine's answer for `event`: `undefined` when it accepts it, else its refusal's message. */
function refusal<TEvent extends { type: string }>(snapshot: { value: unknown; can(event: TEvent): boolean }, event: TEvent, subject: string): string | undefined {
  if (snapshot.can(event)) return undefined;
  try {
    applyEvent({ getSnapshot: () => snapshot, send: () => {} }, event, subject);
  } catch (error) {
    if (!(error instanceof IllegalTransitionError)) return (error as Error).message;
    const detail = /is not legal in state '[^']*' \((.*)\)\. Legal events/s.exec(error.message)?.[1];
    return `the ${subject.split(' ').slice(0, 2).join(' ')} machine does not accept ${error.event} in state '${error.state}'${detail ? ` (${detail})` : ''}; it accepts ${error.legalEvents.join(', ') || 'nothing'} there`;
  }
  return `the machine does not accept ${event.type} now`;
}

/**
 * The task-instance machine's snapshot for a stored instance (its record holds the machine's context).
 *
 * @example
 * ```ts
 * instanceSnapshot(stored).can({ type: 'RESUME' }); // true for a checkpointed instance
 * ```
 */
export function instanceSnapshot(instance: StoredTaskInstance) {
  const { attempt, retries, maxAttempts, manuallySetFrom, deferTimedOut, awaitsEvent, interruptions, maxInterruptions } = instance;
  return taskInstanceMachine.resolveState({
    value: instance.state,
    context: { attempt, retries, maxAttempts, manuallySetFrom, deferTimedOut, awaitsEvent, interruptions, maxInterruptions },
  });
}

/**
 * The actions on a task instance, each asked of the task-instance machine (restored from the
 * stored record): allowed when the machine accepts its event, otherwise disabled with the machine's
 * refusal as the reason. `readOnly` disables all of them.
 *
 * @example
 * ```ts
 * instanceActionsFor(stored, false).filter((a) => a.allowed).map((a) => a.action); // ['resume-task', 'set-success', …]
 * ```
 */
export function instanceActionsFor(instance: StoredTaskInstance, readOnly: boolean): ActionAvailability[] {
  const snapshot = instanceSnapshot(instance);
  return instanceActions.map(({ action, label, event }) => {
    const reason = readOnly ? 'the UI runs read-only (--read-only)' : refusal(snapshot, event, `task instance '${instance.key}'`);
    return { action, label, allowed: reason === undefined, reason };
  });
}

/**
 * Cancelling the run, asked of the flow-run machine in the run's stored state.
 *
 * @example
 * ```ts
 * runActionsFor({ runId: 'r1', state: 'success', reason: null }, false)[0]!.allowed; // false
 * ```
 */
export function runActionsFor(run: Pick<StoredRun, 'runId' | 'state' | 'reason'>, readOnly: boolean): ActionAvailability[] {
  const value = run.state === 'running' ? { running: 'active' } : run.state;
  const snapshot = flowRunMachine.resolveState({ value: value as never, context: { reason: run.reason, manuallySetFrom: null } });
  const event: FlowRunEvent = { type: 'CANCEL' };
  const reason = readOnly ? 'the UI runs read-only (--read-only)' : refusal(snapshot, event, `flow run '${run.runId}'`);
  return [{ action: 'cancel', label: 'Cancel run', allowed: reason === undefined, reason }];
}

/**
 * Where the UI finds a run's flow when it must open the run itself (no live process drives it).
 *
 * @example
 * ```ts
 * const source: FlowSource = { flows: [etl], cwd: process.cwd() };
 * ```
 */
export interface FlowSource {
  /** Flows given to `uiHandler` (matched by id). */
  readonly flows: readonly Flow[];
  /** The directory relative flow files recorded by `taskmachine run` are resolved from. */
  readonly cwd: string;
}

async function flowModule(run: StoredRun, source: FlowSource): Promise<FlowModule> {
  const given = source.flows.find((flow) => flow.id === run.flowId);
  if (given !== undefined) return { flow: given, gates: [], listeners: [] };
  const file = run.labels?.flowFile;
  if (file === undefined) {
    throw new Error(`run '${run.runId}' does not record its flow file and no flow '${run.flowId}' was given to the UI (uiHandler({ flows }))`);
  }
  const module = await loadFlowModule(isAbsolute(file) ? file : resolve(source.cwd, file), source.cwd, run.labels?.flowExport);
  if (module.flow.id !== run.flowId) throw new Error(`'${file}' defines flow '${module.flow.id}', but run '${run.runId}' is of flow '${run.flowId}'`);
  return module;
}

/**
 * What an action asked for.
 *
 * @example
 * ```ts
 * const request: ActionRequest = { action: 'send-event', taskKey: 'approve', payload: { approved: true } };
 * ```
 */
export interface ActionRequest {
  readonly action: UiAction;
  readonly taskKey?: string;
  /** For `send-event` / `resume-task`: the payload (parsed JSON). */
  readonly payload?: unknown;
}

/**
 * How an action ended: what changed and who applied it.
 *
 * @example
 * ```ts
 * { message: 'train: checkpointed → scheduled', appliedBy: 'the process driving the run (pid 4242 on build-7)' }
 * ```
 */
export interface ActionOutcome {
  readonly message: string;
  /** The live process that applied it, or `undefined` when the UI applied it itself. */
  readonly appliedBy: string | undefined;
}

/**
 * The control request of an action, as the CLI's commands store them.
 *
 * @example
 * ```ts
 * controlRequestOf({ action: 'set-failed', taskKey: 'load' }); // { action: 'set-state', taskKey: 'load', state: 'failed' }
 * ```
 */
export function controlRequestOf(request: ActionRequest): Omit<ControlRequestWrite, 'runId' | 'requestedAt' | 'requestedBy'> {
  const taskKey = request.taskKey ?? '';
  const withPayload = request.payload === undefined ? {} : { payload: request.payload };
  switch (request.action) {
    case 'resume-task':
      return { action: 'resume-task', taskKey, ...withPayload };
    case 'send-event':
      return { action: 'send-event', taskKey, ...withPayload };
    case 'set-success':
    case 'set-failed':
    case 'set-skipped':
      return { action: 'set-state', taskKey, state: request.action.slice(4) as ManualTaskInstanceState };
    case 'clear':
      return { action: 'clear', taskKey };
    case 'clear-downstream':
      return { action: 'clear', taskKey, payload: { downstream: true } };
    case 'cancel':
      return { action: 'cancel', payload: 'cancelled from taskmachine ui' };
  }
}

/**
 * Whether an action answers a task that waits on a person: after it, the run goes on.
 *
 * @example
 * ```ts
 * answers('send-event'); // true
 * ```
 */
export function answers(action: UiAction): boolean {
  return action === 'resume-task' || action === 'send-event';
}

/** How many cleared keys a result names: a clear with downstream can reach thousands. */
const CLEARED_KEYS_SHOWN = 5;

/**
 * The result line of a clear that reached several task instances: their count and the first few
 * keys (a run of 5,000 instances would otherwise make a line of 50,000 characters).
 *
 * @example
 * ```ts
 * clearedSummary(['extract', 'score[0]', 'score[1]']); // 'cleared 3 task instances: extract, score[0], score[1]'
 * clearedSummary(keys); // 'cleared 5002 task instances: extract, score[0], score[1], score[2], score[3] and 4997 more'
 * ```
 */
export function clearedSummary(keys: readonly string[]): string {
  const shown = keys.slice(0, CLEARED_KEYS_SHOWN).join(', ');
  return `cleared ${keys.length} task instances: ${shown}${keys.length > CLEARED_KEYS_SHOWN ? ` and ${keys.length - CLEARED_KEYS_SHOWN} more` : ''}`;
}

/**
 * Applies an action through the CLI's control path: a run a live process drives gets a control
 * request that process applies through its machines (this waits for the answer); otherwise the
 * run is opened here, paused, the change applied through the machines and persisted, and
 * `continueRun` (if given) is called after a resumed task or a sent event so the run goes on.
 *
 * @example
 * ```ts
 * const { message } = await applyAction(store, 'nightly', { action: 'resume-task', taskKey: 'train' }, { flows: [], cwd }, undefined);
 * ```
 */
export async function applyAction(
  store: Store,
  runId: string,
  request: ActionRequest,
  source: FlowSource,
  continueRun: ((runId: string) => void) | undefined,
): Promise<ActionOutcome> {
  const run = await store.getRun(runId);
  if (run === undefined) throw new RunNotFoundError(runId, 'it is not in the store');
  const control = controlRequestOf(request);
  const key = control.taskKey ?? '';
  const outcome = await applyChange(store, runId, control, async () => {
    const module = await flowModule(run, source);
    if (request.action === 'cancel') {
      // A run started with --executor workers is opened with it, so that its launches on workers are aborted too.
      const executor = run.labels?.[EXECUTOR_LABEL] === 'workers' ? 'workers' : 'local';
      const handle = startFlow(module.flow, { store, runId, resume: true, executor, gates: module.gates, listeners: module.listeners, log: () => {} });
      handle.cancel(control.payload as string);
      const ended = await handle.done;
      await handle.persisted();
      return `run '${runId}': ${ended.state}${ended.reason ? ` (${ended.reason})` : ''}`;
    }
    const change = onPausedRun(key, (handle) => {
      switch (control.action) {
        case 'set-state':
          return handle.setState(key, control.state!);
        case 'clear': {
          const cleared = handle.clear(key, (control.payload as { downstream?: boolean } | undefined) ?? {});
          return cleared.length > 1 ? clearedSummary(cleared) : undefined;
        }
        case 'resume-task':
          return handle.resumeTask(key, control.payload);
        case 'send-event':
          return handle.sendEvent(key, control.payload);
      }
    });
    return change({ module, store, runId });
  });
  // An answer a waiting task needed (as `taskmachine resume-task` and `send-event` do): the run goes on.
  if (outcome.owner === undefined && answers(request.action) && continueRun !== undefined) continueRun(runId);
  return {
    message: outcome.message,
    appliedBy: outcome.owner === undefined ? undefined : `the process driving the run (pid ${outcome.owner.pid} on ${outcome.owner.host})`,
  };
}

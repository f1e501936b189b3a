// The public surface of `taskmachine`. Lifecycle machines live in `taskmachine/machines`,
// model-based test helpers in `taskmachine/testing`.
export { flow, type FlowBuilder, type FlowTasks, type MapSource, type RefsOf, type CallInputOf, type NotCallable } from './flow/flow.ts';
export type { Flow, TaskArgs, MappedTaskArgs, TaskFn, TaskOptions, TaskRef, TaskReference, TaskKind, TaskDefinition } from './flow/types.ts';
export type { Frozen } from './frozen.ts';
export type {
  AfterOption,
  UpstreamOf,
  UpstreamValue,
  MappedUpstreamOf,
  ItemOf,
  ResultOf,
  ElementOf,
  IdOf,
  RunResultOf,
  AllSucceededRule,
  NoneSucceededRule,
} from './flow/upstream.ts';
export { triggerRules, type TriggerRule } from './flow/triggerRules.ts';
export { flowShape, flowHash, canonicalShapeJson, type FlowShape, type TaskShape } from './flow/flowShape.ts';
export { runFlow, startFlow, type RunArgs, type RunFlowOptions, type RunFlowBaseOptions, type InputRequirement, type FlowRunHandle, type FlowRunStats } from './runtime/runFlow.ts';
export type {
  FlowRunRecord,
  TaskRecords,
  TaskKeyOf,
  TaskKeyFor,
  InstanceResultOf,
  TaskInstanceRecord,
  TaskInstanceChange,
  TaskInstanceMsg,
  FailureKind,
} from './records.ts';
export { systemClock, type Clock } from './clock.ts';
export { taskLogLimits } from './runtime/subscribers/taskLogs.ts';
export { ctx, getCustomContext, type TaskContext, type DeferOptions, type TaskCheckpoint } from './context/taskContext.ts';
export { withCustomContext } from './context/customContext.ts';
export {
  IllegalTransitionError,
  FlowDefinitionError,
  type FlowDefinitionProblem,
  TaskError,
  SkipTask,
  FailTask,
  UnstorableValueError,
  TaskCheckpointed,
  TaskTimeoutError,
  DeferralTimeoutError,
  RunCancelledError,
  ChildTaskFailedError,
  RetryableError,
  GateError,
  InputChangedError,
  MachineVersionError,
  RunOwnedError,
  RunNotFoundError,
  FlowMismatchError,
  TaskInstanceNotFoundError,
} from './errors.ts';
export { defineGate, registerGate, type Gate, type GateContext } from './gates/defineGate.ts';
export { defineDecorator } from './decorators/defineDecorator.ts';
export type {
  Decorator,
  DecoratorDefinition,
  DecoratorHooks,
  DecoratorActorScope,
  DecoratorEvent,
  SystemContext,
  HookPhase,
  AttemptResult,
  SettledVerdict,
  TaskPolicy,
  WrappableTaskFn,
  ResultTransform,
  KeepResult,
  ApplyResultTransform,
  DecoratedResult,
} from './decorators/types.ts';
export { retry } from './decorators/builtins/retry.ts';
export { timeout } from './decorators/builtins/timeout.ts';
export { catchErrors, type CaughtErrors, type CaughtResult, type CatchErrorsParams } from './decorators/builtins/catchErrors.ts';
export { resources, type ResourceRequest } from './decorators/builtins/resources.ts';
export { environment } from './decorators/builtins/environment.ts';
export { registerListener } from './listeners/registry.ts';
export type {
  Listener,
  ListenerHookName,
  TaskInstanceHookArgs,
  TaskInstanceFailedArgs,
  TaskInstanceStateChangeArgs,
  FlowRunHookArgs,
  LifecycleHookArgs,
  FailureDetails,
  TaskInstanceLogArgs,
  ForRunArgs,
  RunListener,
  AttemptScopeArgs,
} from './listeners/types.ts';

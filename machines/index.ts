export {
  TaskInstanceState,
  allTaskInstanceStates,
  finishedStates,
  unfinishedStates,
  failedStates,
  successStates,
  stateColors,
  stateTextColor,
  isTaskInstanceState,
} from './taskInstanceState.ts';
export {
  taskInstanceMachine,
  TASK_INSTANCE_MACHINE_VERSION,
  type TaskInstanceMachine,
  type TaskInstanceEvent,
  type TaskInstanceEventType,
  type TaskInstanceContext,
  type TaskInstanceInput,
  type ManualTaskInstanceState,
} from './taskInstanceMachine.ts';
export {
  flowRunMachine,
  FlowRunState,
  FLOW_RUN_MACHINE_VERSION,
  type FlowRunMachine,
  type FlowRunEvent,
  type FlowRunContext,
  type FlowRunFailureReason,
} from './flowRunMachine.ts';

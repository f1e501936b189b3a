import { shellWord } from '../shellWord.ts';
import { storeHint } from './storeOption.ts';

export { shellWord };

/** ` --store <path>` when the store is not the default one (so a printed command finds the run). */
export function storeArgument(storeOption: string | undefined): string {
  const store = storeOption === undefined ? undefined : storeHint(storeOption).store;
  return store === undefined ? '' : ` --store ${shellWord(store)}`;
}

/**
 * The command that continues a task instance a run waits on, as a person pastes it: `resume-task`
 * for a checkpointed one, `send-event` for one deferred until an event (`resume-task` is refused
 * for it), `resume` otherwise.
 */
export function continueCommand(runId: string, instance: { readonly key: string; readonly state: string }, storeArg: string): string {
  const run = shellWord(runId);
  const key = shellWord(instance.key);
  if (instance.state === 'checkpointed') return `taskmachine resume-task ${run} ${key}${storeArg}`;
  if (instance.state === 'deferred') return `taskmachine send-event ${run} ${key} --payload '<json>'${storeArg}`;
  return `taskmachine resume ${run}${storeArg}`;
}

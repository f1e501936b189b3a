import { shellWord } from '../shellWord.ts';

/**
 * The command that continues a task instance a run waits on, as a person pastes it: `resume-task`
 * for a checkpointed one, `send-event` for one deferred until an event (`resume-task` is refused
 * for it), `resume` otherwise. Here, below the CLI and the UI, because both print it.
 *
 * @example
 * ```ts
 * continueCommand('nightly', { key: 'train', state: 'checkpointed' }, ' --store runs.db');
 * // 'taskmachine resume-task nightly train --store runs.db'
 * ```
 */
export function continueCommand(runId: string, instance: { readonly key: string; readonly state: string }, storeArg: string): string {
  const run = shellWord(runId);
  const key = shellWord(instance.key);
  if (instance.state === 'checkpointed') return `taskmachine resume-task ${run} ${key}${storeArg}`;
  if (instance.state === 'deferred') return `taskmachine send-event ${run} ${key} --payload '<json>'${storeArg}`;
  return `taskmachine resume ${run}${storeArg}`;
}

import type { Flow } from '../../flow/types.ts';
import { startFlow } from '../../runtime/runFlow.ts';
import { wrapLine } from '../wrapText.ts';
import type { Store } from '../../stores/index.ts';

/**
 * `run --detach`: stores the run (its first attempts handed to workers), lets go of it, and prints
 * its id; a worker adopts it (its lease is released) and drives it to its end. Exit code 0.
 *
 * @example
 * ```ts
 * return detach(flow, store, { input, concurrency: 16, labels, onInputChange: 'raise', stdout, hint: undefined });
 * ```
 */
export async function detach(
  definition: Flow,
  store: Store,
  options: {
    input: unknown;
    concurrency: number;
    labels: Readonly<Record<string, string>>;
    runId?: string;
    onInputChange: 'raise' | 'reuse' | 'reset';
    stdout: (text: string) => void;
    hint: string | undefined;
  },
): Promise<number> {
  const handle = startFlow(definition, {
    input: options.input,
    concurrency: options.concurrency,
    store,
    executor: 'workers',
    labels: options.labels,
    onInputChange: options.onInputChange,
    ...(options.runId !== undefined ? { runId: options.runId } : {}),
    log: () => {},
  });
  await handle.ready();
  await handle.persisted();
  await handle.shutdown({ graceMs: 0 });
  const storeFlag = options.hint === undefined ? '' : ` --store '${options.hint}'`;
  options.stdout(`${handle.runId}\n`);
  // (The command on a line of its own: whole, to copy, whatever the terminal's width.)
  options.stdout(`${wrapLine(`Run '${handle.runId}' of flow '${definition.id}' is stored; a worker drives it. Follow it:`)}\n  taskmachine status ${handle.runId}${storeFlag}\n`);
  return 0;
}

// Loading a flow file (its flow, gates and listeners) for the CLI and the web UI, with one clear
// error for each way a file can be wrong.
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import { FlowDefinitionError } from '../errors.ts';
import { isFlowOfThisCopy } from '../flow/flow.ts';
import type { Flow } from '../flow/types.ts';
import { otherCopyRoots, thisCopyRoot, twoCopiesMessage } from '../context/packageCopies.ts';
import type { Gate } from '../gates/defineGate.ts';
import type { Listener } from '../listeners/types.ts';
import { checkListener } from '../listeners/registry.ts';
import { UsageError } from './usageError.ts';

function isFlow(value: unknown): value is Flow {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Flow).id === 'string' &&
    Array.isArray((value as Flow).tasks) &&
    typeof (value as Flow).task === 'function'
  );
}

/** What a flow file provides: the flow, and the gates and listeners it exports as `gates` and `listeners`. */
export interface FlowModule {
  readonly flow: Flow;
  readonly gates: readonly Gate[];
  readonly listeners: readonly Listener[];
}

/** A flow made by another copy of taskmachine than this CLI's cannot run here: one clear error. */
function ownFlow(file: string, flow: Flow): Flow {
  if (isFlowOfThisCopy(flow)) return flow;
  const other = otherCopyRoots()[0] ?? '(another copy)';
  throw new UsageError(
    twoCopiesMessage(`'${file}' defines its flow with another copy of taskmachine than this CLI's`, thisCopyRoot, other),
    'Run the CLI of the copy the flow file imports (e.g. `npx taskmachine` in its project).',
  );
}

/**
 * Imports a flow file and returns the flow it exports — the default export, or the only exported
 * flow, or the one named `exportName` — and its `gates` export. Problems become usage errors
 * (exit 2) that say what to fix.
 */
export async function loadFlowModule(file: string, cwd: string, exportName?: string): Promise<FlowModule> {
  const { flow, module } = await importFlow(file, cwd, exportName);
  const gates = module.gates ?? [];
  if (!Array.isArray(gates) || !gates.every((gate) => gate && typeof gate.prepare === 'function' && typeof gate.name === 'string')) {
    throw new UsageError(`'${file}' exports 'gates' that is not a list of gates.`, 'Export `const gates = [defineGate({ name, prepare })]`.');
  }
  // (The same gate listed twice is one gate, as runFlow takes it; two gates with one name are not.)
  const names = [...new Set<Gate>(gates)].map((gate) => gate.name);
  const twice = names.find((name: string, index: number) => names.indexOf(name) !== index);
  if (twice !== undefined) {
    throw new UsageError(`'${file}' exports two gates named '${twice}'.`, 'Give every gate its own name: a task waits for each gate by its name.');
  }
  const listeners = module.listeners ?? [];
  if (!Array.isArray(listeners) || !listeners.every((listener) => listener !== null && typeof listener === 'object')) {
    throw new UsageError(`'${file}' exports 'listeners' that is not a list of listener objects.`, 'Export `const listeners = [{ onTaskInstanceFailed: … }]`.');
  }
  for (const [index, listener] of listeners.entries()) {
    try {
      checkListener(listener, `listeners[${index}]`);
    } catch (error) {
      throw new UsageError(`'${file}' exports ${(error as Error).message}.`, 'Fix the listener: its keys must be hook names (see docs/listeners.md), each a function.');
    }
  }
  return { flow, gates, listeners };
}

/** Like {@link loadFlowModule}, the flow only. */
export async function loadFlow(file: string, cwd: string, exportName?: string): Promise<Flow> {
  return (await importFlow(file, cwd, exportName)).flow;
}

async function importFlow(file: string, cwd: string, exportName?: string): Promise<{ flow: Flow; module: Record<string, any> }> {
  const path = isAbsolute(file) ? file : resolve(cwd, file);
  if (!existsSync(path)) {
    throw new UsageError(`cannot find flow file '${file}' (looked at ${path}).`, 'Pass the path of a .ts or .js file that exports a flow.');
  }
  const kind = statSync(path);
  if (kind.isDirectory()) {
    throw new UsageError(`flow file '${file}' is a directory (${path}).`, 'Pass the path of a .ts or .js file in it that exports a flow.');
  }
  if (!kind.isFile()) {
    throw new UsageError(`flow file '${file}' is not a regular file (${path}).`, 'Pass the path of a .ts or .js file that exports a flow.');
  }
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof FlowDefinitionError) throw new UsageError(error.message, 'Fix the flow definition and run again.');
    const message = error instanceof Error ? (error.stack ?? error.message) : `it threw ${inspect(error)}, which is not an Error`;
    throw new UsageError(`could not load '${file}': ${message}`, 'The file must be a module that Node can import.');
  }
  if (exportName !== undefined) {
    const named = module[exportName];
    if (!isFlow(named)) {
      throw new UsageError(`'${file}' has no flow exported as '${exportName}'.`, `Exported flows: ${flowExports(module).join(', ') || '(none)'}.`);
    }
    return { flow: ownFlow(file, named), module };
  }
  if (isFlow(module.default)) return { flow: ownFlow(file, module.default), module };
  const flows = flowExports(module);
  if (flows.length === 1) return { flow: ownFlow(file, module[flows[0]!] as Flow), module };
  if (flows.length === 0) {
    throw new UsageError(`'${file}' exports no flow.`, "Add `export default flow('my-flow', (f) => { ... })` to it.");
  }
  throw new UsageError(`'${file}' exports several flows: ${flows.join(', ')}.`, 'Choose one with --flow <export name>.');
}

function flowExports(module: Record<string, unknown>): string[] {
  return Object.keys(module).filter((key) => key !== 'default' && isFlow(module[key]));
}

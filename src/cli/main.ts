import { createRequire } from 'node:module';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { UsageError, type Command, type CommandIO } from './command.ts';
import { commands as registeredCommands } from './commands/index.ts';
import { formatCommandHelp, formatMainHelp, usageLine } from './help.ts';
import { guardThisProcess } from './processGuards.ts';
import { suggest } from '../suggest.ts';
import { wasLogged } from './loggedErrors.ts';

/**
 * Exit codes of the CLI: 0 success, 1 a failed run, 2 a bad invocation, input or store (also a run
 * another process drives, a task key the run does not have, a change the lifecycle refuses), 130 /
 * 143 when stopped by SIGINT / SIGTERM.
 */
export const ExitCode = { ok: 0, failure: 1, usage: 2, sigint: 130, sigterm: 143 } as const;

/** Errors that mean "the invocation, its input or the store is wrong" (exit 2), not a failed run. */
const badInput: ReadonlySet<string> = new Set([
  'RunOwnedError',
  'RunNotFoundError',
  'FlowMismatchError',
  'TaskInstanceNotFoundError',
  'IllegalTransitionError',
  'InputChangedError',
  'MachineVersionError',
  'FlowDefinitionError',
  'LeaseLostError',
]);

/** Whether an error is bad usage, input or store (exit 2): by class name, and every store error. */
export function isBadInput(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (badInput.has(error.name)) return true;
  // StoreError and its subclasses (schema, corrupt, serialization, conflict, connection).
  for (let proto = Object.getPrototypeOf(error); proto !== null; proto = Object.getPrototypeOf(proto)) {
    if ((proto as { constructor?: { name?: string } }).constructor?.name === 'StoreError') return true;
  }
  return false;
}

/**
 * Runs the `taskmachine` CLI with `argv` (the arguments after the program name) and resolves to
 * the exit code. Writes through `io` (default: the process's streams), never calls
 * `process.exit`.
 *
 * @example
 * ```ts
 * import { main } from './src/cli/main.ts';
 * process.exitCode = await main(['viz', 'machine', 'task-instance']);
 * ```
 */
export async function main(
  argv: readonly string[],
  io: CommandIO = defaultIO(),
  commands: readonly Command[] = registeredCommands,
): Promise<number> {
  try {
    return await dispatch(argv, io, commands);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`taskmachine: ${error.message}\n`);
      if (error.hint) io.stderr(`${error.hint}\n`);
      return ExitCode.usage;
    }
    const message = error instanceof Error ? error.message : String(error);
    // A run that stopped on a store error printed it already, with the run's id.
    if (!wasLogged(error)) io.stderr(`taskmachine: ${message}\n`);
    if (process.env.TASKMACHINE_DEBUG && error instanceof Error && error.stack) io.stderr(`${error.stack}\n`);
    return isBadInput(error) ? ExitCode.usage : ExitCode.failure;
  }
}

async function dispatch(argv: readonly string[], io: CommandIO, commands: readonly Command[]): Promise<number> {
  const [first, ...rest] = argv;
  const names = [...commands.map((command) => command.name), 'help'];
  if (first === undefined || first === '--help' || first === '-h') {
    io.stdout(formatMainHelp(commands, version()));
    return ExitCode.ok;
  }
  if (first === '--version') {
    io.stdout(`${version()}\n`);
    return ExitCode.ok;
  }
  if (first.startsWith('-')) {
    throw new UsageError(
      `unknown option '${first}'.`,
      `Options come after the command; the only global ones are --help and --version. Run 'taskmachine --help'.`,
    );
  }
  if (first === 'help') {
    const [topic, ...extra] = rest;
    if (topic === undefined) {
      io.stdout(formatMainHelp(commands, version()));
      return ExitCode.ok;
    }
    if (extra.length) throw new UsageError(`'help' takes one command name, got: ${rest.join(' ')}.`, "Run 'taskmachine help <command>'.");
    io.stdout(formatCommandHelp(findCommand(topic, commands, names)));
    return ExitCode.ok;
  }
  const command = findCommand(first, commands, names);
  return runCommand(command, rest, io);
}

function findCommand(name: string, commands: readonly Command[], names: readonly string[]): Command {
  const command = commands.find((candidate) => candidate.name === name);
  if (command) return command;
  const close = suggest(name, names);
  throw new UsageError(
    `unknown command '${name}'.${close ? ` Did you mean '${close}'?` : ''}`,
    `Commands: ${names.join(', ')}. Run 'taskmachine --help'.`,
  );
}

async function runCommand(command: Command, argv: readonly string[], io: CommandIO): Promise<number> {
  const helpHint = `Run 'taskmachine ${command.name} --help' for its usage.`;
  const config: ParseArgsOptionsConfig = { help: { type: 'boolean', short: 'h' } };
  for (const [name, option] of Object.entries(command.options)) {
    config[name] = { type: option.type, ...(option.short ? { short: option.short } : {}) };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options: config, strict: true, allowPositionals: true });
  } catch (error) {
    throw parseError(error, command, helpHint);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(formatCommandHelp(command));
    return ExitCode.ok;
  }

  const options: Record<string, string | boolean | undefined> = {};
  for (const [name, option] of Object.entries(command.options)) {
    const value = values[name] as string | boolean | undefined;
    if (option.type === 'boolean') {
      options[name] = value === true;
      continue;
    }
    const given = (value as string | undefined) ?? option.default;
    if (given !== undefined && option.choices && !option.choices.includes(given)) {
      const close = suggest(given, option.choices);
      throw new UsageError(
        `${command.name}: --${name} must be one of ${option.choices.join(', ')}; got '${given}'.` +
          (close ? ` Did you mean '${close}'?` : ''),
        helpHint,
      );
    }
    options[name] = given;
  }

  const args: Record<string, string | undefined> = {};
  const required = command.args.filter((arg) => !arg.optional).length;
  if (positionals.length < required) {
    const missing = command.args.slice(positionals.length).filter((arg) => !arg.optional);
    throw new UsageError(
      `${command.name}: missing ${missing.map((arg) => `<${arg.name}>${describeChoices(arg.choices)}`).join(' and ')}.`,
      `Usage: ${usageLine(command)}. ${helpHint}`,
    );
  }
  const repeated = command.args.at(-1)?.repeated === true;
  if (positionals.length > command.args.length && !repeated) {
    throw new UsageError(
      `${command.name}: unexpected argument '${positionals[command.args.length]}'.`,
      `Usage: ${usageLine(command)}. ${helpHint}`,
    );
  }
  command.args.forEach((arg, index) => {
    const value = positionals[index];
    if (value !== undefined && arg.choices && !arg.choices.includes(value)) {
      const close = suggest(value, arg.choices);
      throw new UsageError(
        `${command.name}: unknown ${arg.name} '${value}'.${close ? ` Did you mean '${close}'?` : ''}`,
        `Choose one of: ${arg.choices.join(', ')}. ${helpHint}`,
      );
    }
    args[arg.name] = value;
  });

  const rest = repeated ? positionals.slice(command.args.length) : [];
  const code = await command.run({ ...io, options: options as never, args, rest });
  return code ?? ExitCode.ok;
}

function describeChoices(choices: readonly string[] | undefined): string {
  return choices ? ` (one of: ${choices.join(', ')})` : '';
}

/** Turns a `node:util` parseArgs error into a message that names the option and the fix. */
function parseError(error: unknown, command: Command, helpHint: string): unknown {
  if (!(error instanceof Error) || !('code' in error)) return error;
  const optionNames = Object.keys(command.options).map((name) => `--${name}`);
  const named = /'(-[^'\s]*)/.exec(error.message)?.[1];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const close = named ? suggest(named, [...optionNames, '--help']) : undefined;
      return new UsageError(
        `${command.name}: unknown option '${named ?? '?'}'.${close ? ` Did you mean '${close}'?` : ''}`,
        `Its options: ${[...optionNames, '--help'].join(', ')}. ${helpHint}`,
      );
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const long = /--([\w-]+)/.exec(error.message)?.[1] ?? '';
      const spec = command.options[long];
      if (/argument is ambiguous/.test(error.message)) {
        return new UsageError(
          `${command.name}: option '--${long}' needs a value${describeChoices(spec?.choices)}, but the argument after it starts with '-'.`,
          `Give it a value; one that starts with '-' is written --${long}=<value>. ${helpHint}`,
        );
      }
      if (/argument missing/.test(error.message)) {
        return new UsageError(
          `${command.name}: option '--${long}' needs a value${describeChoices(spec?.choices)}.`,
          helpHint,
        );
      }
      return new UsageError(`${command.name}: option '--${long}' is a flag and takes no value.`, helpHint);
    }
    default:
      return new UsageError(`${command.name}: ${error.message}`, helpHint);
  }
}

let cachedVersion: string | undefined;

/** The version from package.json. */
export function version(): string {
  // Self-reference: the same from the sources and from the built dist/ of an installed package.
  cachedVersion ??= (createRequire(import.meta.url)('taskmachine/package.json') as { version: string }).version;
  return cachedVersion;
}

function defaultIO(): CommandIO {
  // Output that can no longer be written is dropped (and stops the process, see processGuards.ts).
  const output = guardThisProcess();
  return {
    stdout: (text) => {
      if (!output.stdoutClosed) process.stdout.write(text);
    },
    stderr: (text) => {
      if (!output.stderrClosed) process.stderr.write(text);
    },
    cwd: process.cwd(),
  };
}

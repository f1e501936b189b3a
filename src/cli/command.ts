/**
 * What a `taskmachine` command is: its name, help text, options and positionals, and the function
 * that runs it. Define one with {@link defineCommand} in `src/cli/commands/<name>.ts` and add it to
 * the list in `src/cli/commands/index.ts`; parsing, `--help`, validation of choices and the error
 * messages come from `main`.
 */

/** One `--option` of a command. */
export interface CommandOption {
  /** `'boolean'` for a flag, `'string'` for an option that takes a value. */
  readonly type: 'string' | 'boolean';
  /** One-letter alias, e.g. `'f'` for `-f`. */
  readonly short?: string;
  /** One line for the help. */
  readonly description: string;
  /** For string options: the only accepted values (shown in the help, checked before `run`). */
  readonly choices?: readonly string[];
  /** For string options: the value when the option is not given. */
  readonly default?: string;
  /** For string options: how the value is written in the help, e.g. `'<file>'`. */
  readonly valueName?: string;
}

/** One positional argument of a command. */
export interface CommandArgument {
  readonly name: string;
  readonly description: string;
  /** The only accepted values. */
  readonly choices?: readonly string[];
  /**
   * Whether it may be left out (only the last arguments may be optional).
   * @default false
   */
  readonly optional?: boolean;
  /**
   * The last argument only: it takes one or more values (`delete <runId>...`); the ones after the
   * first are in {@link CommandContext.rest}.
   * @default false
   */
  readonly repeated?: boolean;
}

/** Values of a command's options, typed from its option table. */
export type OptionValues<TOptions extends Readonly<Record<string, CommandOption>>> = {
  readonly [K in keyof TOptions]: TOptions[K]['type'] extends 'boolean'
    ? boolean
    : TOptions[K] extends { default: string }
      ? string
      : string | undefined;
};

/** Where a command writes; tests pass their own. */
export interface CommandIO {
  /** Writes to standard output (add the newline yourself). */
  readonly stdout: (text: string) => void;
  /** Writes to standard error (add the newline yourself). */
  readonly stderr: (text: string) => void;
  /** Working directory for relative paths. */
  readonly cwd: string;
}

/** What `run` receives. */
export interface CommandContext<TOptions extends Readonly<Record<string, CommandOption>>> extends CommandIO {
  readonly options: OptionValues<TOptions>;
  /** Positional arguments by name (optional ones may be undefined). */
  readonly args: Readonly<Record<string, string | undefined>>;
  /** The values of a `repeated` last argument after its first (empty otherwise). */
  readonly rest: readonly string[];
}

/** A command of the `taskmachine` CLI. */
export interface Command<TOptions extends Readonly<Record<string, CommandOption>> = Readonly<Record<string, CommandOption>>> {
  /** The word after `taskmachine`, e.g. `'viz'`. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Longer text for `taskmachine <name> --help`. */
  readonly description?: string;
  readonly args: readonly CommandArgument[];
  readonly options: TOptions;
  /** Full command lines shown under "Examples". */
  readonly examples?: readonly string[];
  /**
   * Does the work. Return an exit code (default 0). Throw {@link UsageError} for a bad invocation
   * (exit 2); any other error prints its message and exits 1.
   */
  run(context: CommandContext<TOptions>): number | void | Promise<number | void>;
}

/**
 * Defines a command with its option types inferred from the table.
 *
 * @example
 * ```ts
 * export const statusCommand = defineCommand({
 *   name: 'status',
 *   summary: 'Show the state of a run',
 *   args: [{ name: 'runId', description: 'Run to show', optional: true }],
 *   options: { json: { type: 'boolean', description: 'Print JSON' } },
 *   run({ args, options, stdout }) {
 *     stdout(options.json ? '{}\n' : `run ${args.runId ?? 'latest'}\n`);
 *   },
 * });
 * ```
 */
export function defineCommand<const TOptions extends Readonly<Record<string, CommandOption>>>(
  command: Command<TOptions>,
): Command<TOptions> {
  return command;
}

export { UsageError } from '../operate/usageError.ts';

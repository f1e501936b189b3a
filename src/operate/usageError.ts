// A wrong invocation, whether typed on the command line or sent by the web UI: both show its
// message and hint (the CLI exits with code 2).

/**
 * A wrong invocation: unknown command or option, missing or bad argument. `main` prints the
 * message and how to get help, and exits with code 2.
 *
 * @example
 * ```ts
 * throw new UsageError(`unknown machine 'foo'`, 'Choose one of: task-instance, flow-run.');
 * ```
 */
export class UsageError extends Error {
  override name = 'UsageError';
  /** What to do instead, printed on its own line. */
  readonly hint: string | undefined;

  constructor(message: string, hint?: string) {
    super(message);
    this.hint = hint;
  }
}

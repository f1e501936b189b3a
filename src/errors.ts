/**
 * Thrown when an event is not legal in the state a task instance (or flow run) is in. Nothing
 * changed: the instance stays where it was.
 *
 * @example
 * ```ts
 * import { IllegalTransitionError } from 'taskmachine';
 * try {
 *   handle.setState('extract', 'success');
 * } catch (error) {
 *   if (error instanceof IllegalTransitionError) console.log(error.legalEvents);
 * }
 * ```
 */
export class IllegalTransitionError extends Error {
  override name = 'IllegalTransitionError';
  /** What the event was sent to, e.g. `task instance 'extract'` or `flow run`. */
  readonly subject: string;
  /** The state the subject was (and still is) in. */
  readonly state: string;
  /** The rejected event's type. */
  readonly event: string;
  /** Event types that are legal in `state`. */
  readonly legalEvents: readonly string[];

  constructor(options: {
    subject: string;
    state: string;
    event: string;
    legalEvents: readonly string[];
    detail?: string;
  }) {
    const legal = options.legalEvents.length ? options.legalEvents.join(', ') : '(none)';
    super(
      `${options.subject}: event ${options.event} is not legal in state '${options.state}'` +
        (options.detail ? ` (${options.detail})` : '') +
        `. Legal events there: ${legal}. Nothing was changed.`,
    );
    this.subject = options.subject;
    this.state = options.state;
    this.event = options.event;
    this.legalEvents = options.legalEvents;
  }
}

// A run that stops on an error writes a line about it to its `log` (the run's id, what stopped,
// the error's message) and then rejects with the same error, so that an embedder who never awaits
// the run still learns why. The CLI's session, which prints the run's log, marks such an error
// once it has printed it; the CLI's error printer then does not print the message a second time.
// (Only the session can tell: a run opened with a silent `log` printed nothing.)

const logged = new WeakSet<Error>();

/** Records that `error`'s message was printed already (by the CLI's session, from the run's log). */
export function markLogged(error: Error): void {
  logged.add(error);
}

/** Whether `error`'s message was printed already. */
export function wasLogged(error: unknown): boolean {
  return error instanceof Error && logged.has(error);
}

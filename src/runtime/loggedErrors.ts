// A run that stops on an error writes a line about it to its `log` (the run's id, what stopped,
// the error's message) and then rejects with the same error, so that an embedder who never awaits
// the run still learns why. A caller that prints rejections itself — the CLI — asks here whether
// that line was written already, instead of printing the message a second time.

const logged = new WeakSet<Error>();

/** Records that the run's `log` already carried `error`'s message. */
export function markLogged(error: Error): void {
  logged.add(error);
}

/** Whether a run's `log` already carried this error's message. */
export function wasLogged(error: unknown): boolean {
  return error instanceof Error && logged.has(error);
}

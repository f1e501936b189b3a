/**
 * Whether a process with this pid exists on this host (EPERM: it exists, owned by another user).
 * Used to tell a lease whose holder is gone (killed, crashed) from one whose holder still runs.
 *
 * @example
 * ```ts
 * processExists(process.pid); // true
 * ```
 */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

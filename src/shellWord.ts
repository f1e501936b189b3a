/**
 * A word as a POSIX shell reads it: quoted when it has characters the shell would interpret, so a
 * printed command (a hint in an error message, a resume line) works when pasted.
 *
 * @example
 * ```ts
 * shellWord('runs.db');        // runs.db
 * shellWord('my runs/x.db');   // 'my runs/x.db'
 * ```
 */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

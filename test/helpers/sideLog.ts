// What the multi-process tests share: waiting for a condition on other processes, and reading the
// side log their fixture flows append one `key attempt pid` line to whenever a task body starts.
import { readFileSync } from 'node:fs';

/** Polls `condition` every `everyMs` until it holds; fails (naming `what`) after `ms`. */
export async function until(what: string, condition: () => boolean | Promise<boolean>, ms: number, everyMs: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** The side log at `path`: one `{ key, attempt, pid }` per task body that started. */
export function bodiesIn(path: string): Array<{ key: string; attempt: number; pid: number }> {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [key, attempt, pid] = line.split(' ');
      return { key: key!, attempt: Number(attempt), pid: Number(pid) };
    });
}

import { readFileSync } from 'node:fs';
import { expect } from 'vitest';

/**
 * The value a TSDoc example line promises: the JavaScript literal after its `// ` (a trailing
 * parenthesized remark is not part of it). The line must still be in the file, word for word, so
 * editing the example without the test (or the other way round) fails.
 *
 * @example
 * ```ts
 * expect(machineEdges(taskInstanceMachine).length).toEqual(
 *   promised('src/testing/machineGraph.ts', 'machineEdges(taskInstanceMachine).length; // 76'),
 * );
 * ```
 */
export function promised(file: string, line: string): unknown {
  expectExampleLine(file, line);
  const literal = /\/\/ (.*?)(?: \([^)]*\))?$/.exec(line)![1]!;
  return new Function(`return (${literal});`)();
}

/** Fails unless `file` has ` * <line>` in a doc comment. */
export function expectExampleLine(file: string, line: string): void {
  const source = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
  expect(source.includes(` * ${line}\n`), `${file} no longer has the example line: ${line}`).toBe(true);
}

// What TypeScript says about the mistakes users make, not only that it refuses them: the
// expect-error tests next to this file show a refusal, these compile a user's file with the
// TypeScript compiler and read the message. A forgotten `input` for a typed flow must name `input`
// (it named `resume`, the other way to satisfy the options, which sent users looking elsewhere).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
// (Inside the repository, so that its package.json makes the file an ES module and the import is
// relative; in .vitest/, which git ignores and tsc -p . does not include.)
mkdirSync(join(root, '.vitest'), { recursive: true });
const dir = mkdtempSync(join(root, '.vitest', 'type-messages-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The messages TypeScript gives for `source`, a file of a user's (importing the package's source). */
function messages(source: string): string[] {
  const file = join(dir, `user${Math.random().toString(36).slice(2)}.ts`);
  writeFileSync(file, source);
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
  const program = ts.createProgram([file], { ...config.options, noEmit: true });
  return ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe('type errors name what is wrong', () => {
  it("a typed flow run without its input: the message names 'input'", () => {
    const said = messages(`
      import { flow, runFlow, type FlowBuilder } from '../../src/index.ts';
      const daily = flow('daily', (f: FlowBuilder<{ day: string }>) => { f.task('a', ({ input }) => input.day); });
      await runFlow(daily, { concurrency: 4 });
      export {};
    `);
    expect(said, said.join('\n')).toHaveLength(1);
    expect(said[0]).toContain("Property 'input' is missing in type '{ concurrency: number; }'");
    expect(said[0]).not.toContain("Property 'resume' is missing");
  }, 60_000);
});

// `npm run bench:types`: what the typed data flow costs the compiler. Generates flows of N tasks in
// which each task reads its two upstreams through typed references (every third under
// `all_done`, so with optional values), type-checks each with `tsc --noEmit --extendedDiagnostics`
// and prints the type instantiations and check time per task, against a flow of 2 tasks (the
// package itself). Nothing is timed in tests; run it by hand and paste the table into
// docs/performance.md.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const sizes = (process.env.BENCH_TASKS ?? '2,50,100,200').split(',').map(Number);
const returnLast = process.env.BENCH_RETURN !== 'first';

/** A flow of `tasks` tasks chained through typed references; `build` returns the first or the last. */
function chainedFlow(tasks: number, dir: string): string {
  const lines = [
    `import { flow, type FlowBuilder } from ${JSON.stringify(relative(dir, join(root, 'src/index.ts')))};`,
    "export const chain = flow('chain', (f: FlowBuilder<{ n: number }>) => {",
    "  const t0 = f.task('t0', ({ input }) => [{ id: input.n, v: 'x' }]);",
    "  const t1 = f.map('t1', t0, ({ item }) => ({ id: item.id, v: item.v }));",
  ];
  for (let i = 2; i < tasks; i++) {
    const rule = i % 3 === 0 ? ", trigger: 'all_done'" : '';
    lines.push(
      `  const t${i} = f.task('t${i}', ({ upstream }) => [{ id: (upstream.t${i - 1}?.[0]?.id ?? 0) + ${i}, v: String(upstream.t${i - 2}?.length) }], { after: [t${i - 1}, t${i - 2}]${rule} });`,
    );
  }
  lines.push(`  return { t0, last: t${returnLast ? Math.max(tasks - 1, 1) : 0} };`, '});', '');
  return lines.join('\n');
}

function check(dir: string): { instantiations: number; checkSeconds: number } | { error: string } {
  try {
    const out = execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '--extendedDiagnostics', '-p', dir], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const number = (label: string) => Number(new RegExp(`${label}:\\s+([\\d.]+)`).exec(out)?.[1]);
    return { instantiations: number('Instantiations'), checkSeconds: number('Check time') };
  } catch (error) {
    const text = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`;
    return { error: /Maximum call stack size exceeded/.test(text) ? 'the compiler ran out of stack' : text.split('\n').slice(0, 3).join(' ') };
  }
}

const work = mkdtempSync(join(tmpdir(), 'taskmachine-typecheck-'));
try {
  const tsconfig = {
    extends: join(root, 'tsconfig.json'),
    compilerOptions: { typeRoots: [join(root, 'node_modules/@types')] },
    include: ['chain.ts'],
  };
  writeFileSync(join(work, 'tsconfig.json'), JSON.stringify(tsconfig));
  writeFileSync(join(work, 'package.json'), JSON.stringify({ type: 'module' }));
  console.log(`build returns the ${returnLast ? 'last' : 'first'} task's reference\n`);
  console.log('| tasks | type instantiations | per task (over 2 tasks) | check time |');
  console.log('|---:|---:|---:|---:|');
  let base: number | undefined;
  for (const tasks of sizes) {
    writeFileSync(join(work, 'chain.ts'), chainedFlow(tasks, work));
    const result = check(work);
    if ('error' in result) {
      console.log(`| ${tasks} | ${result.error} | | |`);
      continue;
    }
    base ??= result.instantiations;
    const perTask = tasks > 2 ? ((result.instantiations - base) / (tasks - 2)).toFixed(0) : '-';
    console.log(`| ${tasks} | ${result.instantiations.toLocaleString('en')} | ${perTask} | ${result.checkSeconds.toFixed(2)} s |`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

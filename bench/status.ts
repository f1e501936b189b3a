// `npm run bench:status`: what `taskmachine status <run>` costs on a stored run of 100,000 task
// instances (a map of 99,900 plus 100 single tasks, 200 of them failed), as whole processes timed by
// /usr/bin/time: wall seconds and peak RSS — with the CLI built to JavaScript, as an installed
// package runs it, and from the TypeScript sources (as this repo runs it: Node strips the types of
// every file it loads, which costs more than the status itself). Beside it, what status did before
// it read pages — `loadRun` of the whole run — and the CLI doing nothing (`status` of an empty
// store). Prints a Markdown table (docs/performance.md).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sqliteStore, type TaskInstanceWrite } from '../src/stores/index.ts';

const TOTAL = 100_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'taskmachine.js');
const self = fileURLToPath(import.meta.url);

if (process.argv[2] === 'load-run') {
  // The "before" probe: read the whole run, as status did.
  const store = sqliteStore({ path: process.argv[3]! });
  const loaded = await store.loadRun(process.argv[4]!);
  process.stdout.write(`${loaded!.instances.length}\n`);
  await store.close();
  process.exit(0);
}

function instance(key: string, taskId: string, mapIndex: number | undefined, failed: boolean): TaskInstanceWrite {
  return {
    key, taskId, mapIndex, parentKey: undefined, callInput: undefined, customContext: undefined,
    state: failed ? 'failed' : 'success', attempt: 1, maxAttempts: 1, retries: 0, manuallySetFrom: null, deferTimedOut: false,
    machineVersion: '3', createdAt: 1, updatedAt: 2, startedAt: 1, endedAt: 2, failureKind: failed ? 'application' : undefined,
    error: failed ? new Error(`row ${key} was bad`) : undefined, parked: false, awaitsEvent: false, interruptions: 0, maxInterruptions: 3,
    timer: undefined, resumeData: undefined, eventPayload: undefined,
  } as TaskInstanceWrite;
}

async function seed(path: string): Promise<void> {
  const store = sqliteStore({ path, durability: 'normal' });
  const singles = Array.from({ length: 100 }, (_, i) => `t${i}`);
  await store.commit({
    runId: 'big',
    run: {
      runId: 'big', flowId: 'big', inputFingerprint: 'x', state: 'failed', reason: 'task_failure', input: undefined, labels: undefined,
      taskIds: [...singles, 'score'], machineVersion: '2', createdAt: 1, updatedAt: 2, startedAt: 1, endedAt: 2,
    } as never,
  });
  const keys: Array<[string, string, number | undefined]> = [
    ...singles.map((id): [string, string, undefined] => [id, id, undefined]),
    ...Array.from({ length: TOTAL - singles.length }, (_, i): [string, string, number] => [`score[${i}]`, 'score', i]),
  ];
  for (let at = 0; at < keys.length; at += 5_000) {
    const slice = keys.slice(at, at + 5_000);
    await store.commit({
      runId: 'big',
      instances: slice.map(([key, taskId, mapIndex], i) => ({ record: instance(key, taskId, mapIndex, (at + i) % 500 === 7), expectedVersion: 0 })),
      results: slice.filter((_, i) => (at + i) % 500 !== 7).map(([key]) => ({ key, attempt: 1, value: { key, score: 0.5 }, at: 2 })),
    });
  }
  await store.close();
}

function timed(args: string[]): { seconds: number; peakMb: number } {
  const result = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', process.execPath, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const found = /TIME (\S+) (\d+)/.exec(result.stderr);
  if (result.status !== 0 && result.status !== 1 || found === null) throw new Error(`${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  const [, seconds, kb] = found;
  return { seconds: Number(seconds), peakMb: Number(kb) / 1024 };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** A copy of the package built to JavaScript (bin + dist + this node_modules), as npm installs it. */
function built(dir: string): string {
  const pkg = join(dir, 'pkg');
  mkdirSync(join(pkg, 'bin'), { recursive: true });
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')], { stdio: 'inherit' });
  copyFileSync(join(root, 'package.json'), join(pkg, 'package.json'));
  copyFileSync(bin, join(pkg, 'bin', 'taskmachine.js'));
  symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'));
  return join(pkg, 'bin', 'taskmachine.js');
}

const dir = mkdtempSync(join(tmpdir(), 'taskmachine-bench-status-'));
try {
  const path = join(dir, 'big.db');
  await seed(path);
  const builtBin = built(dir);
  const empty = join(dir, 'empty.db');
  const rows: Array<[string, string[]]> = [];
  for (const [how, cli] of [['built', builtBin], ['sources', bin]] as const) {
    rows.push(
      [`${how}: \`status\` of an empty store (the CLI's own start)`, [cli, 'status', '--store', empty]],
      [`${how}: \`status big\` (counts, then 100 instances, failures first)`, [cli, 'status', 'big', '--store', path]],
      [`${how}: \`status big --state failed --json --limit 1000\` (200 instances with their errors)`, [cli, 'status', 'big', '--store', path, '--state', 'failed', '--json', '--limit', '1000']],
      [`${how}: \`status big --task score --limit 1000 --json\` (with results)`, [cli, 'status', 'big', '--store', path, '--task', 'score', '--limit', '1000', '--json']],
    );
  }
  rows.push(['before: `loadRun` of the whole run (what `status` read), from sources', [self, 'load-run', path, 'big']]);
  console.log(`| ${TOTAL.toLocaleString('en')} task instances, sqliteStore | wall s (median of ${ROUNDS}) | peak RSS MB |`);
  console.log('|---|---|---|');
  for (const [label, args] of rows) {
    timed(args);
    const samples = Array.from({ length: ROUNDS }, () => timed(args));
    console.log(`| ${label} | ${median(samples.map((s) => s.seconds)).toFixed(2)} | ${median(samples.map((s) => s.peakMb)).toFixed(0)} |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

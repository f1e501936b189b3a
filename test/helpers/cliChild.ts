import { randomBytes } from 'node:crypto';
// A `taskmachine` CLI process for multi-process tests: its output kept, its exit awaited, and a
// list that afterEach/afterAll empties by killing what is still running.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const bin = fileURLToPath(new URL('../../bin/taskmachine.js', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));

export interface CliChild {
  readonly pid: number;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Its stdout and stderr so far, interleaved as they came. */
  output(): string;
  kill(signal: NodeJS.Signals): void;
  /** Whether it has exited. */
  ended(): boolean;
}

/** Starts `taskmachine <args>` in the repository (the test's own Node) and adds it to `into`. */
export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv, into: CliChild[]): CliChild {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  let ended = false;
  void exit.then(() => (ended = true));
  const handle: CliChild = { pid: child.pid!, exit, output: () => output, kill: (signal) => void child.kill(signal), ended: () => ended };
  into.push(handle);
  return handle;
}

/** Kills (SIGKILL) and awaits every child in the list, and empties it. */
export async function killAll(children: CliChild[]): Promise<void> {
  for (const child of children.splice(0)) {
    child.kill('SIGKILL');
    await child.exit;
  }
}

/** Runs one SQL statement on the server of `url` (in `database` when given) as its owner. */
export async function adminQuery(url: string, text: string, values: unknown[] = [], database?: string): Promise<Array<Record<string, unknown>>> {
  const target = new URL(url);
  if (database !== undefined) target.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: target.href });
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}

/**
 * A new, empty database on the server of `url`, named `<prefix>_<random>`, and its URL: CLI
 * processes use the store's default schema, so each test that spawns them gets a database of its own.
 */
export async function databaseOfItsOwn(url: string, prefix: string): Promise<{ database: string; url: string }> {
  const database = `${prefix}_${randomBytes(5).toString('hex')}`;
  await adminQuery(url, `CREATE DATABASE ${database}`);
  const target = new URL(url);
  target.pathname = `/${database}`;
  return { database, url: target.href };
}

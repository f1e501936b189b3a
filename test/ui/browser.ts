// The web UI's browser tests share this: Debian's chromium driven by playwright-core (never a
// browser download; .ci/run installs chromium with apt), and `taskmachine ui` as a child process.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { isCI } from '../helpers/postgres.ts';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const bin = join(root, 'bin', 'taskmachine.js');
/** Where Debian installs chromium (`TASKMACHINE_CHROMIUM` overrides). */
export const chromiumPath = process.env.TASKMACHINE_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Why the browser tests cannot run here, or `undefined` when they can. Under CI (`CI=true`) a
 * missing chromium is an error: CI must never pass by skipping them.
 */
export function browserMissing(path: string = chromiumPath, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (existsSync(path)) return undefined;
  const why = `chromium is not installed at ${path} (apt-get install chromium; .ci/run installs it)`;
  if (isCI(env)) throw new Error(`CI is set, so the web UI's browser tests must run, but ${why}.`);
  console.warn(`web UI browser tests skipped: ${why}.`);
  return why;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/** Runs the CLI to completion (a run that ends, or waits on people). */
export function cli(args: readonly string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });
}

/** `taskmachine ui` on a free port: resolves with its URL (the first line it prints) once it listens. */
export async function startUi(args: readonly string[]): Promise<{ url: string; child: ChildProcess; output: () => string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [bin, 'ui', '--port', '0', ...args], { cwd: root, env: { ...process.env, NO_COLOR: '1' } });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const match = /taskmachine ui: (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => reject(new Error(`taskmachine ui exited with ${code} before listening:\n${output}`)));
  });
  return {
    url,
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGINT');
      return exited;
    },
  };
}

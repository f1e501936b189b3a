// The BullMQ peer row of `npm run bench:workers`: the same jobs as bare BullMQ jobs on a private
// redis-server (started here on a free port with its own data directory, append-only file with
// fsync every second — BullMQ's recommended durable set-up — and stopped after), consumed by one
// BullMQ Worker with the same concurrency as a taskmachine worker. No lifecycle, no result records.
// Without `redis-server` on the PATH the row is printed as skipped, with how to get one.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { freePort } from '../test/helpers/freePort.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A rate in jobs/s, or why the row cannot run. */
export type PeerResult = { readonly rate: number } | { readonly skipped: string };

/** A private redis-server, or why there is none. */
async function startRedis(): Promise<{ port: number; stop: () => Promise<void> } | { skipped: string }> {
  if (spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status !== 0) {
    return { skipped: 'redis-server is not installed (Debian: apt-get install redis-server)' };
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'taskmachine-redis-'));
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--daemonize', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    const check = (): void => {
      if (log.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve(true);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  if (!ready) {
    await stop();
    return { skipped: `redis-server did not start: ${log.trim().split('\n').slice(-2).join(' ')}` };
  }
  return { port, stop };
}

/**
 * `tasks` jobs added at once, then run by one BullMQ Worker (`concurrency` jobs at a time; the
 * handler a no-op or a `sleepMs` sleep); resolves to jobs/s from the add to the last completion.
 */
export async function bullmqPeer(tasks: number, sleepMs: number, concurrency: number): Promise<PeerResult> {
  const redis = await startRedis();
  if ('skipped' in redis) return redis;
  const { Queue, Worker } = await import('bullmq');
  const connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null };
  const queue = new Queue('bare', { connection });
  try {
    let done = 0;
    let finished!: () => void;
    const all = new Promise<void>((resolve) => (finished = resolve));
    const start = performance.now();
    await queue.addBulk(Array.from({ length: tasks }, (_, i) => ({ name: 'job', data: { i }, opts: { removeOnComplete: true } })));
    const worker = new Worker(
      'bare',
      async () => {
        if (sleepMs > 0) await new Promise((resolve) => setTimeout(resolve, sleepMs));
      },
      { connection, concurrency },
    );
    worker.on('completed', () => {
      done += 1;
      if (done >= tasks) finished();
    });
    await all;
    const seconds = (performance.now() - start) / 1000;
    await worker.close();
    return { rate: tasks / seconds };
  } finally {
    await queue.close();
    await redis.stop();
  }
}

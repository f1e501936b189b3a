// A private PostgreSQL cluster for tests and benchmarks: initdb into a temporary directory, a free
// port on 127.0.0.1 only (no Unix socket), a random password, started and stopped by this module.
// Tests never depend on a server someone started by hand.
//
// PostgreSQL refuses to run as root: when this process is root, initdb and postgres run as a
// non-root user through `setpriv` (util-linux): $TASKMACHINE_PG_USER, else `postgres` (Debian's
// package creates it; .ci/run makes sure one exists). The server gets `--pdeathsig TERM`, so it
// stops even if this process is killed.
//
// No imports from vitest: bench scripts use it too.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from './freePort.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where the PostgreSQL server binaries are, or why they cannot be used. */
export type PostgresBinaries = { readonly bindir: string } | { readonly missing: string };

/** Connection details of a running private cluster. */
export interface PostgresCluster {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** `postgresql://user:password@127.0.0.1:port/database`. */
  readonly url: string;
  /** PostgreSQL's major version. */
  readonly version: string;
  /**
   * Fast shutdown (clients are disconnected), then the same server started again on the same data
   * directory and port, `pauseMs` later; resolves once it accepts connections again. (For fault
   * tests: a PostgreSQL restart under running clients.)
   */
  restart(options?: { pauseMs?: number }): Promise<void>;
  /** Fast shutdown (clients are disconnected), then the data directory is removed. */
  stop(): Promise<void>;
}

/** True when running under CI (`CI` set to anything but '', '0' or 'false'). */
export function isCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = (env['CI'] ?? '').trim().toLowerCase();
  return value !== '' && value !== '0' && value !== 'false';
}

const has = (dir: string): boolean => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'));

/**
 * Finds initdb and postgres: $TASKMACHINE_PG_BINDIR, then Debian's /usr/lib/postgresql/<newest>/bin,
 * then `pg_config --bindir`, then the PATH.
 */
export function findPostgresBinaries(env: NodeJS.ProcessEnv = process.env): PostgresBinaries {
  const explicit = env['TASKMACHINE_PG_BINDIR'];
  if (explicit !== undefined && explicit !== '') {
    return has(explicit) ? { bindir: explicit } : { missing: `TASKMACHINE_PG_BINDIR=${explicit} has no initdb and postgres` };
  }
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => /^\d+$/.test(v) && has(join(debian, v, 'bin')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length > 0) return { bindir: join(debian, versions[0]!, 'bin') };
  }
  const pgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8', env });
  if (pgConfig.status === 0 && has(pgConfig.stdout.trim())) return { bindir: pgConfig.stdout.trim() };
  for (const dir of (env['PATH'] ?? '').split(':')) if (dir !== '' && has(dir)) return { bindir: dir };
  return { missing: 'no PostgreSQL server binaries (initdb, postgres) found: install postgresql, or set TASKMACHINE_PG_BINDIR' };
}

/** The uid/gid to run the server as, when this process is root; `undefined` otherwise. */
function serverIdentity(env: NodeJS.ProcessEnv): { uid: number; gid: number; name: string } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const name = env['TASKMACHINE_PG_USER'] || 'postgres';
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) {
    throw new Error(
      `PostgreSQL refuses to run as root, and the user '${name}' to run it as does not exist: ` +
        'create it (useradd --system postgres) or set TASKMACHINE_PG_USER to an existing non-root user.',
    );
  }
  const identity = { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()), name };
  if (identity.uid === 0) throw new Error(`TASKMACHINE_PG_USER=${name} is root: PostgreSQL refuses to run as root; name a non-root user.`);
  return identity;
}

/** `[command, args]` running `binary` as `identity` (setpriv) with a parent-death signal. */
function asServerUser(binary: string, args: string[], identity: { uid: number; gid: number } | undefined, pdeathsig: boolean): [string, string[]] {
  const hasSetpriv = spawnSync('setpriv', ['--version']).status === 0;
  if (!hasSetpriv) {
    if (identity !== undefined) throw new Error('Running as root needs setpriv (util-linux) to start PostgreSQL as a non-root user.');
    return [binary, args];
  }
  const user = identity === undefined ? [] : [`--reuid=${identity.uid}`, `--regid=${identity.gid}`, '--clear-groups'];
  return ['setpriv', [...user, ...(pdeathsig ? ['--pdeathsig', 'TERM'] : []), '--', binary, ...args]];
}

const serverEnv = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ PATH: env['PATH'] ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C', TZ: 'UTC' });

/** Starts postgres and resolves once it accepts connections; rejects with its log if it exits first. */
function startServer(command: [string, string[]], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; log: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command[1], { env: serverEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    let ready = false;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      log = (log + chunk).slice(-20_000);
      if (!ready && log.includes('database system is ready to accept connections')) {
        ready = true;
        resolve({ child, log: () => log });
      }
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (!ready) reject(new Error(`postgres exited (${signal ?? code}) before accepting connections:\n${log}`));
    });
  });
}

/**
 * Starts a private cluster. Throws (with the reason) when the binaries are missing or the server
 * cannot start. `durable: false` (for tests) turns fsync and synchronous commit off; benchmarks
 * keep PostgreSQL's defaults. `settings` are more server settings (`-c name=value`), e.g. a bench's
 * `shared_preload_libraries`.
 */
export async function startPostgres(options: { durable?: boolean; env?: NodeJS.ProcessEnv; settings?: Readonly<Record<string, string>> } = {}): Promise<PostgresCluster> {
  const { durable = false, env = process.env, settings: extra = {} } = options;
  const binaries = findPostgresBinaries(env);
  if ('missing' in binaries) throw new Error(binaries.missing);
  const { bindir } = binaries;
  const identity = serverIdentity(env);
  const root = mkdtempSync(join(tmpdir(), 'taskmachine-pg-'));
  const data = join(root, 'data');
  const user = 'taskmachine_test';
  const password = randomBytes(18).toString('base64url');
  const database = 'postgres';
  try {
    const pwfile = join(root, 'pwfile');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (identity !== undefined) {
      chownSync(root, identity.uid, identity.gid);
      chownSync(pwfile, identity.uid, identity.gid);
    }
    const initdb = asServerUser(
      join(bindir, 'initdb'),
      ['-D', data, '-U', user, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C', ...(durable ? [] : ['--no-sync']), '--no-instructions'],
      identity,
      false,
    );
    const init = spawnSync(initdb[0], initdb[1], { env: serverEnv(env), encoding: 'utf8' });
    rmSync(pwfile, { force: true });
    if (init.status !== 0) throw new Error(`initdb failed (${init.status ?? init.signal}):\n${init.stderr || init.stdout || init.error}`);
    const version = spawnSync(join(bindir, 'postgres'), ['--version'], { encoding: 'utf8' }).stdout.match(/(\d+)(\.\d+)?/)?.[1] ?? '?';

    // A port can be taken between choosing it and binding it: try a few.
    for (let tries = 1; ; tries++) {
      const port = await freePort();
      const settings = {
        listen_addresses: '127.0.0.1',
        port: String(port),
        unix_socket_directories: '',
        ...(durable ? {} : { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' }),
        shared_buffers: durable ? '128MB' : '32MB',
        max_connections: '200',
        lc_messages: 'C',
        ...extra,
      };
      const args = ['-D', data, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
      try {
        const command = asServerUser(join(bindir, 'postgres'), args, identity, true);
        let server = await startServer(command, env);
        let stopped: Promise<void> | undefined;
        /** Fast shutdown of the running server: clients are disconnected. */
        const shutdown = (child: ChildProcess) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGINT');
          });
        return {
          host: '127.0.0.1',
          port,
          user,
          password,
          database,
          url: `postgresql://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
          version,
          async restart({ pauseMs = 0 } = {}) {
            if (stopped !== undefined) throw new Error('the cluster is stopped');
            await shutdown(server.child);
            if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
            server = await startServer(command, env);
          },
          stop() {
            stopped ??= shutdown(server.child).then(() => {
              rmSync(root, { recursive: true, force: true });
            });
            return stopped;
          },
        };
      } catch (error) {
        if (tries < 5 && /could not bind|Address already in use/i.test(String(error))) continue;
        throw error;
      }
    }
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
}

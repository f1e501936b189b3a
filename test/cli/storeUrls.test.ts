// `--store` values that are not a store: a mistyped PostgreSQL URL is refused (exit 2) with the
// expected form, never taken as a SQLite file path (which would create a directory tree named after
// the password), and no message ever shows its password — the value is shown masked.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/command.ts';
import { maskCredentials, shownStore, storeKind } from '../../src/cli/storeOption.ts';
import { freePort } from '../helpers/freePort.ts';
import { postgres, skipReason } from '../helpers/postgresTest.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'taskmachine.js');
const flowFile = join(root, 'examples', 'fan-out.ts');
const workerFlow = join(root, 'examples', 'scale-out.ts');
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The CLI in an empty working directory of its own. */
function cli(...args: string[]) {
  const cwd = mkdtempSync(join(tmpdir(), 'taskmachine-store-urls-'));
  dirs.push(cwd);
  const result = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status, output: result.stdout + result.stderr, created: readdirSync(cwd) };
}

describe('maskCredentials / shownStore', () => {
  it.each([
    ['mysql://tm:hunter2@127.0.0.1/app', 'mysql://tm:***@127.0.0.1/app'],
    ['postgres//tm:hunter2@127.0.0.1/app', 'postgres//tm:***@127.0.0.1/app'],
    ['postgres:/tm:hunter2@127.0.0.1/app', 'postgres:/tm:***@127.0.0.1/app'],
    ['postgresql:tm:hunter2@127.0.0.1/app', 'postgresql:***@127.0.0.1/app'],
    ['tm:hunter2@127.0.0.1/app', 'tm:***@127.0.0.1/app'],
    ['./dir/tm:hunter2@db/app', './dir/tm:***@db/app'],
    // A password with '@' or '/' in it (not percent-encoded) is masked whole.
    ['mysql://tm:hun@ter/2@db/app', 'mysql://tm:***@db/app'],
    ['host=db user=tm password=hunter2 dbname=app', 'host=db user=tm password=*** dbname=app'],
    ["host=db password='hunter 2'", 'host=db password=***'],
    ['mysql://db/app?user=tm&password=hunter2&ssl=1', 'mysql://db/app?user=tm&password=***&ssl=1'],
    // Nothing to mask.
    ['runs/x.db', 'runs/x.db'],
    ['mysql://tm@db:3306/app', 'mysql://tm@db:3306/app'],
  ])('%s → %s', (given, shown) => {
    expect(maskCredentials(given)).toBe(shown);
    expect(shownStore(given)).toBe(shown);
  });

  it('a PostgreSQL URL: its password, in the user info or a parameter', () => {
    expect(shownStore('postgres://tm:hunter2@db/app')).toBe('postgres://tm:***@db/app');
    expect(shownStore('postgresql://tm@db/app?password=hunter2')).toBe('postgresql://tm@db/app?password=***');
    // One URL's parser refuses: masked all the same.
    expect(shownStore('postgres://tm:hunter2@db:port/app')).toBe('postgres://tm:***@db:port/app');
  });
});

describe('storeKind', () => {
  it.each([
    ['memory', 'memory'],
    ['postgres://tm:pw@db/app', 'postgres'],
    ['POSTGRESQL://db/app', 'postgres'],
    ['postgres://', 'postgres'],
    ['runs/x.db', 'sqlite'],
    ['./postgres.db', 'sqlite'],
    ['postgres.db', 'sqlite'],
    ['postgres/x.db', 'sqlite'],
    ['.taskmachine/taskmachine.db', 'sqlite'],
    ['/var/lib/runs:old/x.db', 'sqlite'],
    ['./a:b.db', 'sqlite'],
    // (Windows drive paths, a doubled slash and a colon before an @ in a path are paths.)
    ['C:\\runs\\x.db', 'sqlite'],
    ['c:/runs/x.db', 'sqlite'],
    ['runs//x.db', 'sqlite'],
    ['runs/10:00@x.db', 'sqlite'],
  ])('%s is %s', (given, kind) => {
    expect(storeKind(given)).toBe(kind);
  });

  it.each([
    ['postgres:/tm:hunter2@127.0.0.1/app', "--store 'postgres:/tm:***@127.0.0.1/app' starts like a URL ('postgres:')"],
    ['postgresql:tm:hunter2@127.0.0.1/app', "starts like a URL ('postgresql:')"],
    ['postgres//tm:hunter2@127.0.0.1/app', "--store 'postgres//tm:***@127.0.0.1/app' starts like a URL ('postgres//')"],
    ['mysql://tm:hunter2@127.0.0.1/app', "starts like a URL ('mysql:')"],
    ['sqlite://runs.db', "starts like a URL ('sqlite:')"],
    ['a:b.db', "starts like a URL ('a:')"],
    ['tm:hunter2@db/app', "--store 'tm:***@db/app' starts like a URL ('tm:')"],
    ['host=db password=hunter2', "--store 'host=db password=***' holds what looks like a password"],
  ])('%s is refused', (given, says) => {
    let error: unknown;
    try {
      storeKind(given);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UsageError);
    const { message, hint } = error as UsageError;
    expect(message).toContain(says);
    expect(hint).toContain('postgres://user:password@host:5432/database');
    expect(`${message}\n${hint}`).not.toContain('hunter2');
  });
});

describe('the CLI', () => {
  const typo = 'postgres:/tm:hunter2@127.0.0.1/app';

  it.each([
    ['worker, another scheme', ['worker', workerFlow, '--store', 'mysql://tm:hunter2@127.0.0.1/app'], "got 'mysql://tm:***@127.0.0.1/app'"],
    ['worker, no colon', ['worker', workerFlow, '--store', 'postgres//tm:hunter2@127.0.0.1/app'], "got 'postgres//tm:***@127.0.0.1/app'"],
    ['run --executor workers', ['run', flowFile, '--store', typo, '--executor', 'workers'], "--store 'postgres:/tm:***@127.0.0.1/app' starts like a URL"],
    ['status', ['status', '--store', typo], "--store 'postgres:/tm:***@127.0.0.1/app' starts like a URL"],
    ['check', ['check', '--store', typo], "--store 'postgres:/tm:***@127.0.0.1/app' starts like a URL"],
    ['logs', ['logs', 'r1', '--store', typo], "--store 'postgres:/tm:***@127.0.0.1/app' starts like a URL"],
    // A plain run used to exit 0, with a SQLite store in ./postgres:/tm:hunter2@127.0.0.1/app.
    ['run', ['run', flowFile, '--store', typo, '--view', 'none'], "--store 'postgres:/tm:***@127.0.0.1/app' starts like a URL"],
    ['run, a libpq key=value string', ['run', flowFile, '--store', 'host=db password=hunter2', '--view', 'none'], "--store 'host=db password=***' holds what looks like a password"],
  ])('%s: exit 2, the value masked, nothing created', (_name, args, says) => {
    const { code, output, created } = cli(...args);
    expect(output).toContain(says);
    expect(output).not.toContain('hunter2');
    expect(code).toBe(2);
    expect(created).toEqual([]);
  });

  it('a relative file path still makes a SQLite store', () => {
    const { code, output, created } = cli('run', flowFile, '--store', './postgres.db', '--view', 'none');
    expect(output).toContain('success in');
    expect(code).toBe(0);
    expect(created).toContain('postgres.db');
  });

  // (It used to retry for reconnectForMs, 30 s, in silence, and name no fix.)
  it('a PostgreSQL URL nothing answers: exit 2 after the connection retries, with the fix', async () => {
    const port = await freePort();
    const { code, output } = cli('status', '--store', `postgres://tm:hunter2@127.0.0.1:${port}/app`);
    expect(output).toContain(`PostgreSQL at 127.0.0.1:${port}/app is unreachable (connect ECONNREFUSED 127.0.0.1:${port}) after 4 attempts. Nothing was written.`);
    expect(output).toContain('Is the server running, and reachable from here? Check the host and port of --store.');
    expect(output).not.toContain('hunter2');
    expect(code).toBe(2);
  });

  it.skipIf(postgres === undefined)(`sslmode=require of a server without SSL: exit 2 naming the server and the fix${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`, () => {
    const url = new URL(postgres!.url);
    url.searchParams.set('sslmode', 'require');
    const { code, output } = cli('status', '--store', url.href);
    expect(output).toContain(`taskmachine: Could not open the store (schema "taskmachine"): PostgreSQL at 127.0.0.1:${postgres!.port}/postgres does not support SSL connections`);
    expect(output).toContain('Remove the sslmode (or ssl) parameter from --store, or enable SSL on the server');
    expect(output).not.toContain(postgres!.password);
    expect(code).toBe(2);
  });
});

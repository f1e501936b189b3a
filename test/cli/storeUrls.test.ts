// No message ever shows the password of a `--store` value, valid PostgreSQL URL or not: a mistyped
// URL is shown masked.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { maskCredentials, shownStore } from '../../src/cli/storeOption.ts';

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

describe('the CLI', () => {
  const typo = 'postgres:/tm:hunter2@127.0.0.1/app';

  it.each([
    ['worker, another scheme', ['worker', workerFlow, '--store', 'mysql://tm:hunter2@127.0.0.1/app'], "got 'mysql://tm:***@127.0.0.1/app'"],
    ['worker, no colon', ['worker', workerFlow, '--store', 'postgres//tm:hunter2@127.0.0.1/app'], "got 'postgres//tm:***@127.0.0.1/app'"],
    ['run --executor workers', ['run', flowFile, '--store', typo, '--executor', 'workers'], "got --store 'postgres:/tm:***@127.0.0.1/app'"],
  ])('%s: exit 2, the value masked, nothing created', (_name, args, says) => {
    const { code, output, created } = cli(...args);
    expect(output).toContain(says);
    expect(output).not.toContain('hunter2');
    expect(code).toBe(2);
    expect(created).toEqual([]);
  });
});

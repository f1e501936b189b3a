// `taskmachine ui` as a person runs it: it prints its URL, serves, and stops cleanly on Ctrl-C;
// bad options are usage errors (exit 2).
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteStore } from '../../src/stores/index.ts';
import { bin, root, startUi } from '../ui/browser.ts';

const dir = mkdtempSync(join(tmpdir(), 'taskmachine-ui-cli-'));
const db = join(dir, 'runs.db');
await sqliteStore({ path: db }).close();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...args: string[]) => spawnSync(process.execPath, [bin, 'ui', ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

describe('taskmachine ui', () => {
  it('prints its URL, serves the runs page, and on Ctrl-C closes and exits 130', async () => {
    const ui = await startUi(['--store', db]);
    expect(ui.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await fetch(ui.url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('No runs in this store yet');
    expect(await ui.stop()).toBe(130);
    expect(ui.output()).toContain('taskmachine ui: stopped.');
  });

  it('bad options are usage errors that say what to do', () => {
    expect(cli('--port', 'web')).toMatchObject({ status: 2, stderr: expect.stringContaining("--port must be a whole number from 0 to 65535; got 'web'") });
    expect(cli('--store', join(dir, 'typo.db'))).toMatchObject({ status: 2, stderr: expect.stringContaining('there is no such file') });
    expect(existsSync(join(dir, 'typo.db'))).toBe(false);
    expect(cli('--host', '0.0.0.0', '--token', 'short')).toMatchObject({ status: 2, stderr: expect.stringContaining('--token must be at least 8 characters') });
  });

  it('a port in use is a usage error naming it', async () => {
    const busy = createServer().listen(0, '127.0.0.1');
    await once(busy, 'listening');
    const { port } = busy.address() as { port: number };
    const child = spawn(process.execPath, [bin, 'ui', '--store', db, '--port', String(port)], { cwd: root });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    busy.close();
    expect(code).toBe(2);
    expect(stderr).toContain(`cannot listen on 127.0.0.1:${port}`);
  });
});

// `npm run docs:ui`: the screenshots in docs/ui.md. Makes a store of example runs with the CLI (a
// finished fan-out, a failed run, and the ui-flow demo: a map with retries and failures, a
// checkpointed task, a task still running), serves `taskmachine ui` over it, and photographs each
// page — the runs list, a run, a task instance — at a desktop width and a phone width with
// Debian's chromium (playwright-core; never a browser download).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'taskmachine.js');
const out = join(root, 'docs', 'ui');
const dir = mkdtempSync(join(tmpdir(), 'taskmachine-shots-'));
const db = join(dir, 'runs.db');
const release = join(dir, 'release');

const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args, '--store', db, '--view', 'none'], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
cli('run', 'examples/etl.ts', '--run-id', 'etl-2026-12-01', '--input', '{"day":"2026-12-01"}');
cli('run', 'examples/fan-out.ts', '--run-id', 'fan-out-1');
cli('run', 'test/fixtures/checkpoint-flow.ts', '--run-id', 'train-resnet');
cli('run', 'test/fixtures/failing-flow.ts', '--run-id', 'nightly-load');
// The demo run stays driven (its `hold` task waits for a file) while the pages are taken.
const demo = spawn(process.execPath, [bin, 'run', 'test/fixtures/ui-flow.ts', '--run-id', 'scoring-2026-12-02', '--store', db, '--view', 'none'], {
  cwd: root,
  env: { ...process.env, RELEASE: release, UI_ITEMS: '24' },
  stdio: 'ignore',
});
const ui = spawn(process.execPath, [bin, 'ui', '--store', db, '--port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
try {
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    ui.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /taskmachine ui: (http:\/\/\S+?)\/?\s/.exec(text);
      if (match) resolve(match[1]!);
    });
    ui.on('exit', () => reject(new Error('taskmachine ui stopped')));
  });
  const browser = await chromium.launch({ executablePath: process.env.TASKMACHINE_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  mkdirSync(out, { recursive: true });
  const pages = [
    ['runs', '/'],
    ['run', '/runs/scoring-2026-12-02'],
    ['task-instance', `/runs/scoring-2026-12-02/tasks/${encodeURIComponent('score[10]')}`],
  ] as const;
  // Wait until the demo run has reached its waiting point (train checkpointed, hold running).
  const probe = await browser.newPage();
  for (;;) {
    await probe.goto(`${url}/runs/scoring-2026-12-02`);
    if ((await probe.locator('tr[data-key="train"][data-state="checkpointed"]').count()) > 0) break;
    await probe.waitForTimeout(200);
  }
  await probe.close();
  for (const [width, tag] of [[1280, 'wide'], [400, 'narrow']] as const) {
    const page = await browser.newPage({ viewport: { width, height: 900 }, deviceScaleFactor: 1 });
    for (const [name, path] of pages) {
      await page.goto(`${url}${path}`);
      await page.locator('details').evaluateAll((all) => all.forEach((d) => d.setAttribute('open', '')));
      await page.screenshot({ path: join(out, `${name}-${tag}.png`), fullPage: true });
      console.log(`docs/ui/${name}-${tag}.png`);
    }
    await page.close();
  }
  await browser.close();
} finally {
  writeFileSync(release, '');
  ui.kill('SIGINT');
  await new Promise((resolve) => demo.once('exit', resolve));
  rmSync(dir, { recursive: true, force: true });
}

// The web UI in a real browser (Debian's chromium, driven by playwright-core): `taskmachine ui`
// over a store with finished, failed, checkpointed and running runs. One browser for the file.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, browserMissing, cli, launchBrowser, root, startUi } from './browser.ts';

const missing = browserMissing();
const dir = mkdtempSync(join(tmpdir(), 'taskmachine-ui-browser-'));
const db = join(dir, 'runs.db');
const release = join(dir, 'release');
let browser: Browser;
let ui: Awaited<ReturnType<typeof startUi>>;
let liveRun: ChildProcess | undefined;
const dialogs: string[] = [];

beforeAll(async () => {
  if (missing) return;
  // A finished, a failed and a checkpointed run, made by processes that have ended.
  expect(cli(['run', 'examples/fan-out.ts', '--run-id', 'finished', '--store', db, '--view', 'none']).status).toBe(0);
  expect(cli(['run', 'test/fixtures/failing-flow.ts', '--run-id', 'failed', '--store', db, '--view', 'none']).status).toBe(1);
  expect(cli(['run', 'test/fixtures/checkpoint-flow.ts', '--run-id', 'parked', '--store', db, '--view', 'none']).status).toBe(1);
  [browser, ui] = await Promise.all([launchBrowser(), startUi(['--store', db])]);
}, 120_000);

afterAll(async () => {
  if (liveRun && liveRun.exitCode === null) liveRun.kill('SIGTERM');
  await browser?.close();
  if (ui) expect(await ui.stop()).toBe(130);
  rmSync(dir, { recursive: true, force: true });
});

async function open(path: string, width = 1280): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.accept();
  });
  await page.goto(`${ui.url.replace(/\/$/, '')}${path}`);
  return page;
}

describe.skipIf(missing)('taskmachine ui in chromium', () => {
  it('lists the runs with their states', async () => {
    const page = await open('/');
    const rows = page.locator('table.runs tbody tr');
    await expect.poll(() => rows.evaluateAll((trs) => trs.map((tr) => `${tr.getAttribute('data-run')}:${tr.getAttribute('data-state')}`))).toEqual([
      'parked:running',
      'failed:failed',
      'finished:success',
    ]);
    expect(await page.locator('tr[data-run="failed"] .badge').evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(el).backgroundColor)).toBe('rgb(255, 0, 0)');
    await page.close();
  });

  it('a run page draws its task graph in the states’ colours', async () => {
    const page = await open('/runs/failed');
    const fill = (id: string) => page.locator(`#graph g#${id} path, #graph g#${id} polygon`).first().getAttribute('fill');
    expect(await fill('task-0')).toBe('#ff0000'); // load: failed
    expect(await fill('task-1')).toBe('#ffa500'); // report: upstream_failed
    expect(await page.locator('.failures li').first().innerText()).toContain('load failed FailTask: database refused the connection');
    await page.locator('#graph g#task-0 a').first().click();
    await page.waitForURL(/task=load/);
    expect(await page.locator('table.instances tbody tr').count()).toBe(1);
    await page.close();
  });

  it('a run started during the test appears, and its page follows it, without a reload', async () => {
    const list = await open('/');
    await list.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
    liveRun = spawn(process.execPath, [bin, 'run', 'test/fixtures/ui-flow.ts', '--run-id', 'live', '--store', db, '--view', 'none'], {
      cwd: root,
      env: { ...process.env, RELEASE: release, UI_ITEMS: '6' },
      stdio: 'ignore',
    });
    await list.locator('tr[data-run="live"]').waitFor({ timeout: 30_000 });
    expect(await list.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(42);
    await list.close();

    const run = await open('/runs/live');
    await run.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 7));
    await run.locator('tr[data-key="train"][data-state="checkpointed"]').waitFor({ timeout: 30_000 });
    expect(await run.locator('tr[data-key="hold"]').getAttribute('data-state')).toBe('running');
    expect(await run.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(7);
    await run.close();
  }, 90_000);

  it('resuming the checkpointed task is applied by the process driving the run, and the page shows it', async () => {
    const page = await open('/runs/live/tasks/train');
    await page.locator('form[data-action="resume-task"] button').click();
    await expect.poll(() => page.locator('.flash').innerText(), { timeout: 30_000 }).toContain('applied by the process driving the run');
    await page.locator('h1 .badge[data-state="success"]').waitFor({ timeout: 30_000 });
    // The run goes on in its own process: released, it ends, and the run page shows that live.
    const run = await open('/runs/live');
    writeFileSync(release, '');
    await run.locator('h1 .badge[data-state="success"]').waitFor({ timeout: 30_000 });
    await run.close();
    await page.close();
  }, 90_000);

  it('cancelling a run a live process drives: that process applies it and the page says the run ends there', async () => {
    const driver = spawn(process.execPath, [bin, 'run', 'test/fixtures/ui-flow.ts', '--run-id', 'doomed', '--store', db, '--view', 'none'], {
      cwd: root,
      env: { ...process.env, RELEASE: join(dir, 'never-released'), UI_ITEMS: '2' },
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => driver.once('exit', resolve));
    try {
      const page = await open('/runs/doomed');
      // (The page of a run not stored yet is a 404 without a live stream: ask again until it is there.)
      await expect.poll(async () => (await page.reload())!.status(), { timeout: 30_000 }).toBe(200);
      await page.locator('tr[data-key="hold"][data-state="running"]').waitFor({ timeout: 30_000 });
      await page.locator('form[data-action="cancel"] button').click();
      // It asked first (and the record of dialogs is left as it was, for the escaping test).
      expect(dialogs.pop()).toBe('Cancel run?');
      const flash = page.locator('.flash');
      await expect.poll(() => flash.innerText(), { timeout: 30_000 }).toContain(`applied by the process driving the run (pid ${driver.pid}`);
      expect(await flash.innerText()).toContain('the run ends there');
      expect(await flash.innerText()).not.toContain('continues');
      await page.locator('h1 .badge[data-state="failed"]').waitFor({ timeout: 30_000 });
      await page.close();
    } finally {
      if (driver.exitCode === null) driver.kill('SIGTERM');
      await exited;
    }
  }, 90_000);

  it('an action the machine refuses is disabled, with its reason', async () => {
    const page = await open('/runs/live/tasks/train');
    const button = page.locator('form[data-action="send-event"] button');
    expect(await button.isDisabled()).toBe(true);
    expect(await page.locator('#why-send-event').innerText()).toMatch(/does not accept TRIGGER in state 'success'/);
    expect(await page.locator('form[data-action="clear"] button').isEnabled()).toBe(true);
    await page.close();
  });

  it('a refused payload stays in its box; one over 64 KB gets a page that says why', async () => {
    const page = await open('/runs/parked/tasks/train');
    const box = page.locator('form[data-action="resume-task"] input.payload');
    await box.fill('{"epoch": 7');
    await page.locator('form[data-action="resume-task"] button').click();
    await expect.poll(() => page.locator('.flash.bad').innerText(), { timeout: 15_000 }).toContain('the payload is not JSON');
    expect(await box.inputValue()).toBe('{"epoch": 7');
    await box.fill(JSON.stringify('x'.repeat(70_000)));
    const [answer] = await Promise.all([page.waitForResponse((response) => response.request().method() === 'POST'), page.locator('form[data-action="resume-task"] button').click()]);
    expect(answer.status()).toBe(413);
    await expect.poll(() => page.locator('main h1').innerText(), { timeout: 15_000 }).toBe('Payload too large');
    expect(await page.locator('main').innerText()).toContain('larger than 64 KB, so nothing was applied');
    await page.close();
  });

  it('a result holding HTML is shown as text', async () => {
    const page = await open('/runs/live/tasks/render');
    expect(await page.locator('[data-testid="result"]').textContent()).toBe('<script>alert("x")</script><b>bold?</b>');
    expect(await page.locator('pre b, main script').count()).toBe(0);
    expect(dialogs).toEqual([]);
    await page.close();
  });

  it('a hidden tab lets go of its live stream: a seventh tab loads and acts, and a tab shown again catches up', async () => {
    // Chromium opens at most 6 HTTP/1.1 connections per host and each live stream holds one. One
    // context (one connection pool) as one browser window's tabs; headless chromium reports every
    // tab visible, so the test hides a tab as the browser would: document.hidden and visibilitychange.
    const context = await browser.newContext();
    await context.addInitScript({
      content: `(() => {
        let hidden = false;
        Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => hidden });
        Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
        window.setHidden = (value) => { hidden = value; document.dispatchEvent(new Event('visibilitychange')); };
      })();`,
    });
    const setHidden = (page: Page, hidden: boolean) => page.evaluate((value) => (globalThis as unknown as { setHidden(h: boolean): void }).setHidden(value), hidden);
    const base = ui.url.replace(/\/$/, '');
    try {
      const hiddenTabs: Page[] = [];
      for (let i = 0; i < 6; i++) {
        const tab = await context.newPage();
        await tab.goto(`${base}/runs/failed`);
        await tab.locator('#live.on').waitFor({ timeout: 10_000 });
        await setHidden(tab, true);
        await tab.locator('#live:not(.on)').waitFor({ timeout: 10_000 });
        hiddenTabs.push(tab);
      }
      const seventh = await context.newPage();
      seventh.on('dialog', (dialog) => void dialog.accept());
      await seventh.goto(`${base}/runs/failed/tasks/report`, { timeout: 15_000 });
      await seventh.locator('#live.on').waitFor({ timeout: 10_000 });
      await seventh.locator('form[data-action="clear"] button').click();
      await expect.poll(() => seventh.locator('.flash').innerText(), { timeout: 15_000 }).toContain('report: upstream_failed → none');
      // The command it prints names the store `taskmachine ui --store` shows, so it works when pasted.
      expect(await seventh.locator('.flash').innerText()).toContain(`it goes on with taskmachine resume failed --store ${db})`);
      // Shown again, a tab reopens its stream and, as the run changed meanwhile, shows the change.
      const first = hiddenTabs[0]!;
      expect(await first.locator('tr[data-key="report"]').getAttribute('data-state')).toBe('upstream_failed');
      await setHidden(first, false);
      await first.locator('#live.on').waitFor({ timeout: 10_000 });
      await expect.poll(() => first.locator('tr[data-key="report"]').getAttribute('data-state'), { timeout: 15_000 }).toBe('none');
    } finally {
      await context.close();
    }
  }, 120_000);

  it('on a phone the graph keeps its size and scrolls sideways, the runs table fits, breadcrumbs keep ids whole', async () => {
    const long = 'nightly-load-2026-12-02-with-a-long-name';
    expect(cli(['run', 'test/fixtures/failing-flow.ts', '--run-id', long, '--store', db, '--view', 'none']).status).toBe(1);
    const phone = { width: 390, height: 844 };
    const size = (page: Page, selector: string) =>
      page.locator(selector).first().evaluate((el) => {
        const e = el as unknown as { scrollWidth: number; clientWidth: number; getBoundingClientRect(): { width: number; height: number }; getAttribute(name: string): string | null };
        return { scrollWidth: e.scrollWidth, clientWidth: e.clientWidth, width: e.getBoundingClientRect().width, height: e.getBoundingClientRect().height, attribute: e.getAttribute('width') };
      });
    const run = await browser.newPage({ viewport: phone });
    await run.goto(`${ui.url.replace(/\/$/, '')}/runs/live`);
    const svg = await size(run, '#graph svg');
    // Graphviz gives its size in points (4/3 px): drawn at that size, not scaled down to the card.
    expect(svg.width).toBeCloseTo((parseFloat(svg.attribute!) * 4) / 3, 0);
    const graph = await size(run, '#graph');
    expect(graph.scrollWidth).toBeGreaterThan(graph.clientWidth);
    expect(await run.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)).toBeLessThanOrEqual(phone.width);
    await run.goto(`${ui.url.replace(/\/$/, '')}/`);
    const table = await size(run, 'table.runs');
    const box = await size(run, 'table.runs >> xpath=..');
    expect(table.width).toBeLessThanOrEqual(box.clientWidth);
    await run.goto(`${ui.url.replace(/\/$/, '')}/runs/${long}/tasks/load`);
    // One line each (about 20 px): a run id or key split across two lines reads as two words.
    for (const crumb of await run.locator('.crumbs > a, .crumbs > strong').all()) expect((await crumb.boundingBox())!.height).toBeLessThan(26);
    await run.close();
  });

  it('a long task label stays inside its box in the fonts this machine has', async () => {
    expect(cli(['run', 'test/ui/fixtures/long-names.ts', '--run-id', 'long-names', '--store', db, '--view', 'none']).status).toBe(0);
    const page = await open('/runs/long-names');
    // Graphviz measured the labels in Helvetica; the browser draws them in what fontconfig has.
    const spare = await page.locator('#graph g.node').evaluateAll((nodes) =>
      nodes.map((node) => {
        type Box = { getBBox(): { width: number } };
        const g = node as unknown as { querySelector(s: string): Box; querySelectorAll(s: string): Box[] };
        return g.querySelector('path, polygon').getBBox().width - Math.max(...[...g.querySelectorAll('text')].map((text) => text.getBBox().width));
      }),
    );
    expect(spare).toHaveLength(3);
    for (const room of spare) expect(room).toBeGreaterThan(8);
    await page.close();
  });

  it('the open page of a run that is deleted says it is gone instead of staying stale and live', async () => {
    const page = await open('/runs/finished');
    await page.locator('#live.on').waitFor({ timeout: 10_000 });
    expect(cli(['delete', 'finished', '--store', db]).status).toBe(0);
    await expect.poll(() => page.locator('main h1').first().innerText(), { timeout: 15_000 }).toBe('Run not found');
    expect(await page.locator('main').innerText()).toContain("There is no run 'finished' in this store.");
    expect(await page.locator('#live').innerText()).toBe('○ gone');
    expect(await page.locator('#live.on').count()).toBe(0);
    await page.close();
  });

  it('on a non-loopback address every request needs the token it printed', async () => {
    const open = await startUi(['--store', db, '--host', '0.0.0.0']);
    try {
      expect(open.url).toMatch(/\?token=[\w-]{20,}$/);
      const page = await browser.newPage();
      const refused = await page.goto(open.url.replace(/\?token=.*$/, ''));
      expect(refused!.status()).toBe(401);
      expect(await page.locator('h1').innerText()).toBe('Token required');
      const allowed = await page.goto(open.url);
      expect(allowed!.status()).toBe(200);
      expect(page.url()).not.toContain('token=');
      expect(await page.locator('h1').first().innerText()).toBe('Runs');
      await page.close();
    } finally {
      expect(await open.stop()).toBe(130);
    }
  });
});

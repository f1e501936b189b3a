// `npm run bench:ui`: how long the web UI takes to open a run of 10,000 task instances in
// Chromium on this machine (issue #14 asks ≤ 2 s): a real run (a map of 10,000 with 11 failures)
// made by runFlow into a SQLite store, served by uiHandler, opened in Debian's chromium (driven by
// playwright-core) — the run page, the page of one of its instances and the runs list, each timed
// from navigation to the load event, the median of BENCH_ROUNDS rounds (a fresh page each).
// Prints a Markdown table (docs/ui.md).
import { createServer } from 'node:http';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { flow, runFlow } from '../src/index.ts';
import { sqliteStore } from '../src/stores/index.ts';
import { uiHandler } from '../src/ui/index.ts';

const ITEMS = 10_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'taskmachine-bench-ui-'));
const store = sqliteStore({ path: join(dir, 'runs.db') });
try {
  const big = flow('big', (f) => {
    const list = f.task('list', () => Array.from({ length: ITEMS }, (_, i) => i));
    const score = f.map('score', list, ({ item }) => {
      if ((item as number) % 997 === 0) throw new Error(`item ${String(item)} was bad`);
      return item;
    });
    f.task('sum', () => 'done', { after: [score], trigger: 'all_done' });
  });
  const made = Date.now();
  await runFlow(big, { store, runId: 'big', log: () => {}, concurrency: 64 });
  console.error(`made a run of ${ITEMS + 2} task instances in ${Date.now() - made} ms`);

  const ui = uiHandler({ store });
  const server = createServer(ui).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const browser = await chromium.launch({ executablePath: process.env.TASKMACHINE_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  const rows: string[] = [];
  for (const [name, path] of [['run page (10,002 instances)', '/runs/big'], ['task instance page', `/runs/big/tasks/${encodeURIComponent('score[997]')}`], ['runs list', '/']] as const) {
    const times: number[] = [];
    for (let round = 0; round <= ROUNDS; round++) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const started = performance.now();
      await page.goto(`${base}${path}`, { waitUntil: 'load' });
      if (round > 0) times.push(performance.now() - started); // round 0 warms the WebAssembly Graphviz up
      await page.close();
    }
    times.sort((a, b) => a - b);
    rows.push(`| ${name} | ${times[Math.floor(times.length / 2)]!.toFixed(0)} ms | ${times.at(-1)!.toFixed(0)} ms |`);
  }
  await browser.close();
  ui.close();
  server.close();
  console.log(['| page | median | slowest |', '|---|---:|---:|', ...rows].join('\n'));
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}

import { get as httpGet } from 'node:http';
// The web UI's handler without a browser: what pages show (escaped), which actions the machine
// allows, actions through the control path, and the safety rules (tokens, loopback, forgery).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { sqliteStore, type Store } from '../../src/stores/index.ts';
import { csrfOf, flashOf, post, serve, type TestServer } from './helpers.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'taskmachine.js');
const dir = mkdtempSync(join(tmpdir(), 'taskmachine-ui-'));
const db = join(dir, 'runs.db');
let store: Store;
let server: TestServer;
const continued: string[] = [];

beforeAll(async () => {
  // Runs made by the CLI in processes that have ended: nobody drives them.
  for (const [fixture, runId] of [['test/fixtures/ui-flow.ts', 'demo'], ['test/fixtures/failing-flow.ts', 'broken'], ['test/fixtures/checkpoint-flow.ts', 'parked'], ['test/fixtures/event-flow.ts', 'asks'], ['test/fixtures/event-flow.ts', 'ask me']]) {
    const made = spawnSync(process.execPath, [bin, 'run', fixture!, '--run-id', runId!, '--store', db, '--view', 'none'], { cwd: root, encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(1);
  }
  // A run of 205 task instances, for results that would be too long to show whole.
  const wide = spawnSync(process.execPath, [bin, 'run', 'test/fixtures/ui-flow.ts', '--run-id', 'wide', '--store', db, '--view', 'none'], { cwd: root, encoding: 'utf8', env: { ...process.env, UI_ITEMS: '200' } });
  expect(wide.status, wide.stderr).toBe(1);
  // 25 failures with first lines of ~700 characters, and a task they leave upstream_failed.
  const longFailures = spawnSync(process.execPath, [bin, 'run', 'test/ui/fixtures/long-failures.ts', '--run-id', 'longfail', '--store', db, '--view', 'none'], { cwd: root, encoding: 'utf8' });
  expect(longFailures.status, longFailures.stderr).toBe(1);
  // Random-shaped ids, as taskmachine makes them: one alone, two sharing their first 8 characters.
  for (const runId of ['58677e75-1c2d-4e5f-8a9b-0c1d2e3f4a5b', '0fe04d20-ca9d-4a20-af24-d68f8efc4657', '0fe04d20-0000-4000-8000-000000000000']) {
    const made = spawnSync(process.execPath, [bin, 'run', 'test/fixtures/failing-flow.ts', '--run-id', runId, '--store', db, '--view', 'none'], { cwd: root, encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(1);
  }
  store = sqliteStore({ path: db });
  server = await serve({ store, cwd: root, continueRun: (runId) => continued.push(runId), pollMs: 20 });
}, 60_000);

afterAll(async () => {
  await server.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { headers, redirect: 'manual' });

/** Subscribes to the live stream a rendered page names; `until` fails after 5 s without the text. */
async function watch(page: string): Promise<{ until(text: string): Promise<void> }> {
  const src = /data-src="([^"]+)"/.exec(page)![1]!.replaceAll('&amp;', '&');
  const response = await fetch(`${server.url}${src}`, { signal: AbortSignal.timeout(10_000) });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let seen = '';
  return {
    async until(text) {
      const deadline = Date.now() + 5_000;
      while (!seen.includes(text)) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()))));
        const chunk = await Promise.race([reader.read(), late]).finally(() => clearTimeout(timer));
        if (chunk === undefined || chunk.done) throw new Error(`the stream ${src} did not say '${text}' within 5 s${chunk?.done ? ' (it ended)' : ''}; it said: ${JSON.stringify(seen)}`);
        seen += decoder.decode(chunk.value);
      }
    },
  };
}

describe('pages', () => {
  it('lists runs newest first with their state and counts, filtered by flow', async () => {
    const page = await (await get('/')).text();
    expect(page.indexOf('data-run="broken"')).toBeGreaterThan(-1);
    expect(page.indexOf('data-run="broken"')).toBeLessThan(page.indexOf('data-run="demo"'));
    expect(page).toMatch(/data-run="broken" data-state="failed"/);
    const filtered = await (await get('/?flow=failing')).text();
    expect(filtered).toContain('data-run="broken"');
    expect(filtered).not.toContain('data-run="demo"');
  });

  it('a run: mapped tasks summarized, failures first with the first line of their error, instances paged', async () => {
    const page = await (await get('/runs/demo')).text();
    expect(page).toContain('score ×24: 2 failed, 22 success');
    const failures = page.slice(page.indexOf('<h2>Failures</h2>'), page.indexOf('Task graph'));
    expect(failures).toContain('score[10]');
    expect(failures).toContain('score 10: model returned NaN');
    expect(failures).not.toContain('at score'); // the first line only
    expect(page).toMatch(/<g id="task-1" class="node tm-task state-failed">/);
    const onlyScore = await (await get('/runs/demo?task=score&state=failed')).text();
    expect([...onlyScore.matchAll(/<tr data-key="([^"]+)"/g)].map((m) => m[1])).toEqual(['score[10]', 'score[21]']);
  });

  it('the Failures card shows the start of a long first line (the instance page all of it) and links each failing state', async () => {
    const page = await (await get('/runs/longfail')).text();
    const card = page.slice(page.indexOf('<h2>Failures</h2>'), page.indexOf('Task graph'));
    const lines = [...card.matchAll(/<span class="err"[^>]*>([^<]*)<\/span>/g)].map((m) => m[1]!);
    expect(lines).toHaveLength(20);
    for (const line of lines) expect(line).toMatch(/^FailTask: item \d+: the inventory service answered .{60,140}…$/);
    expect(card).toContain('<a href="/runs/longfail?state=failed#instances">all 25 failed →</a>');
    expect(card).toContain('<a href="/runs/longfail?state=upstream_failed#instances">all 1 upstream failed →</a>');
    expect(await (await get(`/runs/longfail/tasks/${encodeURIComponent('check[0]')}`)).text()).toContain('a long explanation of why END');
  });

  it('a result holding HTML is shown as text, never as markup', async () => {
    const page = await (await get('/runs/demo/tasks/render')).text();
    expect(page).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;b&gt;bold?&lt;/b&gt;');
    expect(page).not.toContain('<script>alert');
    expect(page).not.toContain('<b>bold');
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt; is a log line, not markup');
  });

  it('the graph is drawn from the run’s stored shape: its dependency edges, no flow file imported', async () => {
    const page = await (await get('/runs/demo')).text();
    const edges = [...page.matchAll(/<g id="edge\d+" class="edge">\s*<title>(t\d+)&#45;&gt;(t\d+)<\/title>/g)].map((m) => `${m[1]}->${m[2]}`);
    // extract(t0) → score(t1), render(t2), train(t3), hold(t4); score, train → report(t5)
    expect(edges.sort()).toEqual(['t0->t1', 't0->t2', 't0->t3', 't0->t4', 't1->t5', 't3->t5']);
  });

  it('a task instance shows its log lines per attempt', async () => {
    const page = await (await get(`/runs/demo/tasks/${encodeURIComponent('score[3]')}`)).text();
    expect(page).toMatch(/<details class="log" data-attempt="1"><summary>attempt 1 · 1 line<\/summary><pre class="value"><span class="at">[\d:.]+<\/span> scoring item 3 \(attempt 1\)/);
    expect(page).toMatch(/<details class="log" data-attempt="2" open><summary>attempt 2 · 1 line<\/summary>[^\n]*scoring item 3 \(attempt 2\)/);
  });

  it('a task instance: transitions with msg, attempts, the error with its stack, the chart with its path', async () => {
    const page = await (await get(`/runs/demo/tasks/${encodeURIComponent('score[10]')}`)).text();
    expect(page).toContain('model returned NaN\n    at score');
    expect(page).toMatch(/<code>FAIL<\/code><\/td><td>up_for_retry<\/td>/);
    expect(page).toMatch(/class="node tm-current tm-visited" data-title="failed"/);
    expect(page).toMatch(/class="edge tm-path" data-title="running-&gt;up_for_retry"/);
    expect(page).not.toMatch(/class="edge tm-path" data-title="running-&gt;failed"[^>]*>\n<title>running → failed INTERRUPT/);
  });

  it('an empty list says why: past the last page, a filter nothing matches, a task that is not there; a forged cursor is a 400', async () => {
    const past = await (await get('/?page=99999')).text();
    expect(past).toContain('No runs on page 99999: the list ends before it.');
    expect(past).not.toContain('in this store yet');
    expect(past).not.toContain('← newer'); // (page 99998 is empty too: the message links the first page)
    const none = await (await get('/runs/demo?task=score&state=skipped')).text();
    expect(none).toMatch(/<p class="empty">No task instances of <code>score<\/code> in <span class="badge"[^>]*>skipped<\/span>\.<\/p>/);
    expect(none).not.toContain('<table class="instances">');
    expect(await (await get('/runs/demo?task=nosuch')).text()).toContain('This run has no task <code>nosuch</code>.');
    const forged = await get('/runs/demo?cursor=garbage');
    expect(forged.status).toBe(400);
    expect(await forged.text()).toContain('The <code>cursor</code> in this address was not made by this store');
  });

  it('the 8 characters of a random run id that taskmachine status shows lead to the run; a start several share names them', async () => {
    const alone = await get('/runs/58677e75/tasks/load?x=1');
    expect(alone.status).toBe(302);
    expect(alone.headers.get('location')).toBe('/runs/58677e75-1c2d-4e5f-8a9b-0c1d2e3f4a5b/tasks/load?x=1');
    expect((await get('/runs/58677E75-1c2d')).headers.get('location')).toBe('/runs/58677e75-1c2d-4e5f-8a9b-0c1d2e3f4a5b');
    const shared = await get('/runs/0fe04d20');
    expect(shared.status).toBe(300);
    const text = await shared.text();
    expect(text).toContain('Several runs start with 0fe04d20');
    expect(text).toContain('href="/runs/0fe04d20-ca9d-4a20-af24-d68f8efc4657"');
    expect(text).toContain('href="/runs/0fe04d20-0000-4000-8000-000000000000"');
    // Fewer than 8 characters, or a start of an id that is not random: no guess.
    expect((await get('/runs/58677e7')).status).toBe(404);
    expect((await get('/runs/brok')).status).toBe(404);
  });

  it('unknown runs and instances are a 404 page that names them, escaped', async () => {
    const response = await get('/runs/%3Cimg%20src%3Dx%3E');
    expect(response.status).toBe(404);
    expect(await response.text()).toContain('no run &#39;&lt;img src=x&gt;&#39;');
    expect((await get('/runs/demo/tasks/nope')).status).toBe(404);
    expect((await get('/runs/%E0%A4%A')).status).toBe(400);
  });
});

describe('commands the pages print work when pasted', () => {
  it('words quoted for the shell, a --payload placeholder and the store the UI was given', async () => {
    const own = await serve({ store, cwd: root, storeArgument: " --store 'my runs.db'" });
    const q = (word: string) => `&#39;${word}&#39;`; // a single quote, as the page escapes it
    try {
      const instance = await (await fetch(`${own.url}/runs/ask%20me/tasks/approve`)).text();
      expect(instance).toContain(`<code>taskmachine send-event ${q('ask me')} approve --payload ${q('&lt;json&gt;')} --store ${q('my runs.db')}</code>`);
      // Orphaned: a lease taken long ago by a process that never renewed it.
      const { lease } = await store.acquireLease({ runId: 'ask me', owner: { ownerId: 'gone', host: 'elsewhere', pid: 4242 }, ttlMs: 1_000, now: Date.now() - 60_000 });
      const run = await (await fetch(`${own.url}/runs/ask%20me`)).text();
      await store.releaseLease(lease, Date.now());
      expect(run).toContain(`<code>taskmachine resume ${q('ask me')} --store ${q('my runs.db')}</code> takes it over`);
      const cleared = await post(`${own.url}/runs/ask%20me/actions`, { _csrf: csrfOf(run), action: 'clear', key: 'hold' });
      expect(flashOf(cleared)).toEqual([true, "hold: success → none (no process drives the run: it goes on with taskmachine resume 'ask me' --store 'my runs.db')"]);
    } finally {
      await own.close();
    }
  });
});

describe('actions: offered only when the machine allows them', () => {
  it('a checkpointed instance offers Resume; Send event is disabled with the machine’s reason', async () => {
    const page = await (await get('/runs/demo/tasks/train')).text();
    expect(page).toMatch(/data-action="resume-task">[\s\S]*?<button type="submit">Resume<\/button>/);
    expect(page).toMatch(/<button type="submit" disabled aria-describedby="why-send-event">Send event<\/button><small class="why" id="why-send-event">the task instance machine does not accept TRIGGER in state &#39;checkpointed&#39;/);
  });

  it('a successful instance cannot be marked success again; a finished run cannot be cancelled', async () => {
    const instance = await (await get('/runs/demo/tasks/extract')).text();
    expect(instance).toMatch(/disabled aria-describedby="why-set-success">Mark success<\/button><small class="why" id="why-set-success">[^<]*SET_STATE in state &#39;success&#39;/);
    const run = await (await get('/runs/broken')).text();
    expect(run).toMatch(/disabled aria-describedby="why-cancel">Cancel run<\/button><small[^>]*>the flow run machine does not accept CANCEL in state &#39;failed&#39;/);
  });

  it('a form over 64 KB is answered 413 with a page that says why, and nothing is applied', async () => {
    const csrf = csrfOf(await (await get('/runs/demo/tasks/train')).text());
    const response = await post(`${server.url}/runs/demo/actions`, { _csrf: csrf, action: 'resume-task', key: 'train', payload: JSON.stringify('x'.repeat(70_000)) });
    expect(response.status).toBe(413);
    expect(await response.text()).toContain('The form was larger than 64 KB, so nothing was applied.');
    expect((await store.loadRun('demo'))!.instances.find((i) => i.key === 'train')!.state).toBe('checkpointed');
  });

  it('an illegal action posted anyway is refused by the machine and changes nothing', async () => {
    const csrf = csrfOf(await (await get('/runs/demo/tasks/extract')).text());
    const response = await post(`${server.url}/runs/demo/actions`, { _csrf: csrf, action: 'send-event', key: 'extract' });
    expect(response.status).toBe(303);
    const [ok, text] = flashOf(response);
    expect(ok).toBe(false);
    expect(text).toContain('TRIGGER is not legal');
    expect((await store.loadRun('demo'))!.instances.find((i) => i.key === 'extract')!.state).toBe('success');
  });

  it('resuming a checkpointed task of a run nobody drives: applied here through the machine, then the run is continued', async () => {
    const csrf = csrfOf(await (await get('/runs/demo/tasks/train')).text());
    const response = await post(`${server.url}/runs/demo/actions`, { _csrf: csrf, action: 'resume-task', key: 'train' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/runs/demo/tasks/train');
    expect(flashOf(response)).toEqual([true, 'train: checkpointed → scheduled (the run continues in the background)']);
    expect(continued).toEqual(['demo']);
    const after = await fetch(`${server.url}/runs/demo/tasks/train`, { headers: { cookie: response.headers.get('set-cookie')!.split(';')[0]! } });
    expect(await after.text()).toContain('train: checkpointed → scheduled');
  });
  it('a clear that reaches hundreds of task instances says how many, names the first few, and keeps its note', async () => {
    const csrf = csrfOf(await (await get('/runs/wide/tasks/extract')).text());
    const [ok, text] = flashOf(await post(`${server.url}/runs/wide/actions`, { _csrf: csrf, action: 'clear-downstream', key: 'extract' }));
    expect(ok).toBe(true);
    // extract, 200 scores, render, train, hold (report has not run: it waits on the checkpointed train)
    expect(text).toMatch(/^cleared 204 task instances: ([^ ,]+, ){4}[^ ,]+ and 199 more \(no process drives the run: it goes on with taskmachine resume wide\)$/);
  });

  it('sending the event a deferred task of a run nobody drives waits for: applied here, then the run is continued', async () => {
    const csrf = csrfOf(await (await get('/runs/asks/tasks/approve')).text());
    const response = await post(`${server.url}/runs/asks/actions`, { _csrf: csrf, action: 'send-event', key: 'approve', payload: '{"approved":true}' });
    expect(flashOf(response)).toEqual([true, 'approve: deferred → scheduled (the run continues in the background)']);
    expect(continued).toContain('asks');
    expect((await store.loadRun('asks'))!.instances.find((i) => i.key === 'approve')).toMatchObject({ state: 'scheduled', eventPayload: { approved: true } });
  });
});

describe('runs and their owners', () => {
  it('a run whose process stopped without letting go is marked orphaned', async () => {
    // A lease taken long ago by a process that never renewed it.
    await store.acquireLease({ runId: 'broken', owner: { ownerId: 'gone', host: 'elsewhere', pid: 4242 }, ttlMs: 1_000, now: Date.now() - 60_000 });
    const page = await (await get('/')).text();
    expect(page).toMatch(/<tr data-run="broken"[\s\S]*?<span class="orphaned" title="its process stopped without letting go \(lease expired\)/);
    const demoRow = /<tr data-run="demo"[\s\S]*?<\/tr>/.exec(page)![0];
    expect(demoRow).not.toContain('orphaned');
  });

  it('a live page whose run’s driver dies (SIGKILL: it writes nothing) is told to change, and then shows the run orphaned', async () => {
    const driver = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const { lease } = await store.acquireLease({ runId: 'asks', owner: { ownerId: 'doomed', host: hostname(), pid: driver.pid! }, ttlMs: 600_000, now: Date.now() });
    try {
      const runPage = await (await get('/runs/asks')).text();
      expect(runPage).toContain(`driven by pid ${driver.pid}`);
      const list = await (await get('/')).text();
      expect(/<tr data-run="asks"[\s\S]*?<\/tr>/.exec(list)![0]).toContain('>live</span>');
      const [runEvents, listEvents] = await Promise.all([watch(runPage), watch(list)]);
      driver.kill('SIGKILL');
      await once(driver, 'exit');
      await Promise.all([runEvents.until('event: change'), listEvents.until('event: change')]);
      expect(await (await get('/runs/asks')).text()).toContain('orphaned (process gone)');
      expect(/<tr data-run="asks"[\s\S]*?<\/tr>/.exec(await (await get('/')).text())![0]).toContain('class="orphaned"');
    } finally {
      driver.kill('SIGKILL');
      await store.releaseLease(lease, Date.now());
    }
  });

  it('cancelling a run nobody drives opens it here and cancels it through the flow-run machine', async () => {
    const csrf = csrfOf(await (await get('/runs/parked')).text());
    const response = await post(`${server.url}/runs/parked/actions`, { _csrf: csrf, action: 'cancel' });
    expect(response.headers.get('location')).toBe('/runs/parked');
    expect(flashOf(response)).toEqual([true, "run 'parked': failed (cancelled)"]);
    expect(await store.getRun('parked')).toMatchObject({ state: 'failed', reason: 'cancelled' });
  });
});

describe('live updates', () => {
  it('a run page’s event stream says change when the run changes, and only then', async () => {
    const page = await (await get('/runs/broken')).text();
    const src = /data-src="([^"]+)"/.exec(page)![1]!.replaceAll('&amp;', '&');
    const controller = new AbortController();
    const response = await fetch(`${server.url}${src}`, { signal: controller.signal });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const read = async (until: (t: string) => boolean) => {
      while (!until(text)) text += decoder.decode((await reader.read()).value);
    };
    await read((t) => t.includes('watching'));
    expect(text).not.toContain('event: change');
    const csrf = csrfOf(page);
    const cleared = await post(`${server.url}/runs/broken/actions`, { _csrf: csrf, action: 'clear', key: 'report' });
    expect(flashOf(cleared)).toEqual([true, 'report: upstream_failed → none (no process drives the run: it goes on with taskmachine resume broken)']);
    await read((t) => t.includes('event: change'));
    controller.abort();
  });
});

describe('mounted under a path', () => {
  it('a static name that is an Object property (constructor, __proto__) is a 404, not a crash', async () => {
    for (const name of ['constructor', '__proto__', 'toString']) expect((await fetch(`${server.url}/static/${name}`)).status).toBe(404);
  });

  it('serves its pages, links and assets under basePath, and nothing outside it', async () => {
    const mounted = await serve({ store, basePath: '/ops/taskmachine/' });
    try {
      const page = await (await fetch(`${mounted.url}/ops/taskmachine/`)).text();
      expect(page).toContain('href="/ops/taskmachine/static/ui.css"');
      expect(page).toContain('href="/ops/taskmachine/runs/demo"');
      expect((await fetch(`${mounted.url}/ops/taskmachine/static/ui.js`)).status).toBe(200);
      expect((await fetch(`${mounted.url}/ops/taskmachine/runs/demo`)).status).toBe(200);
      expect((await fetch(`${mounted.url}/runs/demo`)).status).toBe(404);
    } finally {
      await mounted.close();
    }
  });
});

describe('safety', () => {
  it('refuses a POST without the page’s anti-forgery token, from another origin or another site', async () => {
    const csrf = csrfOf(await (await get('/runs/demo/tasks/extract')).text());
    const action = `${server.url}/runs/demo/actions`;
    expect((await post(action, { action: 'clear', key: 'extract' })).status).toBe(403);
    expect((await post(action, { _csrf: 'forged', action: 'clear', key: 'extract' })).status).toBe(403);
    expect((await post(action, { _csrf: csrf, action: 'clear', key: 'extract' }, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await post(action, { _csrf: csrf, action: 'clear', key: 'extract' }, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await store.loadRun('demo'))!.instances.find((i) => i.key === 'extract')!.state).toBe('success');
  });

  it('without a token it answers only a loopback Host (no DNS rebinding)', async () => {
    // (fetch cannot set Host; node:http can, as a rebinding attacker's page effectively does.)
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const { port } = new URL(server.url);
        request({ host: '127.0.0.1', port, path: '/', headers: { host } }, (response) => {
          response.resume();
          resolve(response.statusCode!);
        }).on('error', reject).end();
      });
    expect(await status('evil.example')).toBe(403);
    expect(await status('evil.example:80')).toBe(403);
    expect(await status('localhost:1234')).toBe(200);
    expect(await status('127.0.0.1')).toBe(200);
  });

  it('with a token every request must carry it: ?token= sets a cookie, or a Bearer header', async () => {
    const guarded = await serve({ store, token: 'sesame-sesame' });
    try {
      const refused = await fetch(`${guarded.url}/`);
      expect(refused.status).toBe(401);
      expect(await refused.text()).toContain('Token required');
      expect((await fetch(`${guarded.url}/?token=wrong-token`)).status).toBe(401);
      const login = await fetch(`${guarded.url}/runs/demo?token=sesame-sesame`, { redirect: 'manual' });
      expect(login.status).toBe(303);
      expect(login.headers.get('location')).toBe('/runs/demo');
      const cookie = login.headers.get('set-cookie')!;
      expect(cookie).toMatch(/HttpOnly; SameSite=Strict/);
      expect((await fetch(`${guarded.url}/runs/demo`, { headers: { cookie: cookie.split(';')[0]! } })).status).toBe(200);
      expect((await fetch(`${guarded.url}/`, { headers: { authorization: 'Bearer sesame-sesame' } })).status).toBe(200);
      // Another local app's cookie that is not valid percent-encoding (browsers send every cookie of the host) changes nothing.
      expect((await fetch(`${guarded.url}/runs/demo`, { headers: { cookie: `other=100%; ${cookie.split(';')[0]!}` } })).status).toBe(200);
      // A path that normalizes to '//host/…' is redirected within this site, never to another host
      // (sent raw: fetch would normalize it first).
      const location = await new Promise<string | undefined>((resolve, reject) => {
        const { hostname, port } = new URL(guarded.url);
        httpGet({ hostname, port, path: '/.//evil.example/?token=sesame-sesame' }, (response) => {
          response.resume();
          resolve(response.headers.location);
        }).on('error', reject);
      });
      expect(location).toBe('/evil.example/');
    } finally {
      await guarded.close();
    }
  });

  it('read-only: every action disabled with the reason, and a POST is refused', async () => {
    const readOnly = await serve({ store, readOnly: true });
    try {
      const page = await (await fetch(`${readOnly.url}/runs/demo/tasks/extract`)).text();
      expect(page).not.toMatch(/<button type="submit">/);
      expect(page).toContain('the UI runs read-only (--read-only)');
      const response = await post(`${readOnly.url}/runs/demo/actions`, { _csrf: csrfOf(page), action: 'clear', key: 'extract' });
      expect(response.status).toBe(403);
    } finally {
      await readOnly.close();
    }
  });

  it('sends a content security policy that allows no inline script', async () => {
    const csp = (await get('/')).headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
  });
});

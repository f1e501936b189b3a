import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { Flow } from '../flow/types.ts';
import { ownerStatus } from '../runtime/opening/ownerStatus.ts';
import { shellWord } from '../shellWord.ts';
import { StoreError } from '../stores/errors.ts';
import type { Store } from '../stores/index.ts';
import { answers, applyAction, type UiAction } from './actions.ts';
import { readForm } from './form.ts';
import { cutAtWord } from './format.ts';
import { html, type SafeHtml } from './html.ts';
import { page, type PageContext } from './layout.ts';
import { LiveFeeds } from './live.ts';
import { findInstance, instancePage } from './pages/instance.ts';
import { instanceHref, runHref, runPage, runQuery, runSignature } from './pages/run.ts';
import { runsPage, runsQuery, runsSignature } from './pages/runs.ts';
import { runsStartingWith } from './runIdStart.ts';

/**
 * Options of {@link uiHandler}.
 *
 * @example
 * ```ts
 * uiHandler({ store: sqliteStore({ path: '.taskmachine/taskmachine.db' }), token: process.env.TASKMACHINE_UI_TOKEN });
 * ```
 */
export interface UiOptions {
  /** The store whose runs the UI shows. The handler never closes it. */
  readonly store: Store;
  /**
   * A secret every request must carry (once as `?token=…`, which sets a cookie, or as
   * `Authorization: Bearer …`). Without one the UI answers only requests from this machine
   * (a loopback client and a loopback `Host`), whatever address the server listens on.
   * @default undefined (loopback only)
   */
  readonly token?: string;
  /**
   * Show everything, offer no action (every action is shown disabled and POSTs are refused).
   * @default false
   */
  readonly readOnly?: boolean;
  /**
   * The path the handler is mounted at, e.g. `'/taskmachine'` (requests outside it are answered 404).
   * @default ''
   */
  readonly basePath?: string;
  /**
   * Flows the UI may open to apply an action to a run no live process drives (matched by flow
   * id); without a match it imports the flow file the run records (`taskmachine run` records it).
   * @default []
   */
  readonly flows?: readonly Flow[];
  /**
   * Where relative flow files recorded with runs are resolved from.
   * @default process.cwd()
   */
  readonly cwd?: string;
  /**
   * Called after the UI itself resumed a checkpointed task of a run no process drives, so the run
   * goes on (`taskmachine ui` starts `taskmachine resume <runId>` in the background). Without it
   * the page says how to continue the run.
   * @default undefined
   */
  readonly continueRun?: (runId: string) => void;
  /**
   * What the commands the pages print (`taskmachine resume <run>`, `taskmachine send-event …`)
   * carry after their arguments so they find the run when pasted: ` --store <path>` for a store
   * other than the default one (`taskmachine ui` passes its own `--store`, as the CLI's hints do).
   * @default '' (the default store)
   * @example ` --store runs.db`
   */
  readonly storeArgument?: string;
  /**
   * How often (ms) the store is asked whether a watched page changed, per watched run or list.
   * @default 500
   */
  readonly pollMs?: number;
}

/**
 * A `node:http` request listener (also usable as express / connect middleware) serving the web UI,
 * with `close()` to end its live streams.
 *
 * @example
 * ```ts
 * const ui = uiHandler({ store });
 * const server = createServer(ui).listen(7420, '127.0.0.1');
 * process.on('SIGINT', () => { ui.close(); server.close(); });
 * ```
 */
export interface UiHandler {
  (req: IncomingMessage, res: ServerResponse, next?: () => void): void;
  /** Ends every live stream and stops the store polling behind them. */
  close(): void;
}

const staticFiles: Readonly<Record<string, { file: string; type: string }>> = {
  'ui.js': { file: 'ui.js', type: 'text/javascript; charset=utf-8' },
  'ui.css': { file: 'ui.css', type: 'text/css; charset=utf-8' },
};
const staticCache = new Map<string, Buffer>();

function staticFile(name: string): Buffer {
  let content = staticCache.get(name);
  if (content === undefined) {
    content = readFileSync(new URL(`./static/${name}`, import.meta.url));
    staticCache.set(name, content);
  }
  return content;
}

const securityHeaders = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  // (same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on the page's own POSTs.)
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  return plain === '::1' || (isIP(plain) === 4 && plain.startsWith('127.'));
}

function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  return name === 'localhost' || name === '[::1]' || (isIP(name) === 4 && name.startsWith('127.'));
}

function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    // Browsers send every cookie of the host (any port) here: another local app's cookie that is
    // not valid percent-encoding must not break the page, so it is skipped.
    try {
      out.set(part.slice(0, at).trim(), decodeURIComponent(part.slice(at + 1).trim()));
    } catch {
      continue;
    }
  }
  return out;
}

function send(res: ServerResponse, status: number, body: SafeHtml | string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...securityHeaders, ...headers });
  res.end(String(body));
}

/**
 * How much of an action's result or error the flash keeps. It travels in a cookie (browsers keep
 * about 4 KB, and a non-ASCII character takes up to 9 once percent-encoded), with room for the note.
 */
const FLASH_CHARS = 360;

const actions: ReadonlySet<string> = new Set<UiAction>(['resume-task', 'send-event', 'set-success', 'set-failed', 'set-skipped', 'clear', 'clear-downstream', 'cancel']);

/**
 * The web UI as a request handler: the runs list, a run (graph, counts, failures, instances and
 * their timeline), a task instance (transitions, attempts, error, result, checkpoint, lifecycle
 * chart), live updates by server-sent events, and actions through the same control path as the
 * CLI. Pages are rendered on the server, every value from the store escaped; the only script is
 * a small file of its own.
 *
 * Safety: without `token` only loopback requests are answered; with it every request must carry
 * it. Actions are POSTs that must carry the page's anti-forgery token and come from the page's own
 * origin.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { uiHandler } from 'taskmachine/ui';
 * import { sqliteStore } from 'taskmachine/stores';
 * const store = sqliteStore({ path: '.taskmachine/taskmachine.db' });
 * createServer(uiHandler({ store })).listen(7420, '127.0.0.1');
 * ```
 */
export function uiHandler(options: UiOptions): UiHandler {
  const { store } = options;
  const base = (options.basePath ?? '').replace(/\/+$/, '');
  const readOnly = options.readOnly ?? false;
  const csrf = randomBytes(18).toString('base64url');
  const feeds = new LiveFeeds(options.pollMs ?? 500);
  const source = { flows: options.flows ?? [], cwd: options.cwd ?? process.cwd() };
  const storeArgument = options.storeArgument ?? '';

  const context = (req: IncomingMessage): PageContext => {
    const flash = cookies(req).get('tm_flash');
    return { base, csrf, readOnly, storeArgument, flash: flash ? { ok: flash.startsWith('1'), text: flash.slice(1) } : undefined };
  };

  const refuse = (res: ServerResponse, status: number, title: string, text: string) =>
    send(res, status, page({ base, csrf, readOnly, flash: undefined }, title, [{ text: title }], html`<section class="card"><h1>${title}</h1><p>${text}</p></section>`));

  async function handle(req: IncomingMessage, res: ServerResponse, next?: () => void): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://ui.invalid');
    if (base && url.pathname !== base && !url.pathname.startsWith(`${base}/`)) {
      if (next) return next();
      return refuse(res, 404, 'Not found', 'This address is not part of the taskmachine UI.');
    }
    const path = url.pathname.slice(base.length) || '/';

    // Who may ask.
    if (options.token === undefined) {
      if (!isLoopbackAddress(req.socket.remoteAddress) || !isLoopbackHost(req.headers.host)) {
        return refuse(res, 403, 'Forbidden', 'This UI has no token, so it answers only requests from this machine (127.0.0.1 / localhost). Start it with a token to open it from elsewhere.');
      }
    } else {
      const given = url.searchParams.get('token') ?? undefined;
      if (given !== undefined && sameSecret(given, options.token)) {
        url.searchParams.delete('token');
        const cookie = `tm_token=${encodeURIComponent(options.token)}; HttpOnly; SameSite=Strict; Path=${base || '/'}`;
        // (Leading slashes collapsed: '//host/…' would be another site.)
        res.writeHead(303, { location: `${url.pathname.replace(/^\/+/, '/')}${url.search}`, 'set-cookie': cookie, ...securityHeaders });
        return void res.end();
      }
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!sameSecret(cookies(req).get('tm_token'), options.token) && !sameSecret(bearer, options.token)) {
        return refuse(res, 401, 'Token required', 'Open the address taskmachine ui printed (it carries ?token=…), or send Authorization: Bearer <token>.');
      }
    }

    if (req.method === 'GET' && path.startsWith('/static/')) {
      const name = path.slice('/static/'.length);
      const entry = Object.hasOwn(staticFiles, name) ? staticFiles[name] : undefined;
      if (entry === undefined) return refuse(res, 404, 'Not found', 'No such file.');
      res.writeHead(200, { 'content-type': entry.type, 'cache-control': 'no-cache', ...securityHeaders });
      return void res.end(staticFile(entry.file));
    }

    let segments: string[];
    try {
      segments = path.split('/').filter(Boolean).map((segment) => decodeURIComponent(segment));
    } catch {
      return refuse(res, 400, 'Bad address', 'The address is not valid percent-encoding.');
    }
    if (req.method === 'POST') {
      if (segments.length !== 3 || segments[0] !== 'runs' || segments[2] !== 'actions') return refuse(res, 404, 'Not found', 'Nothing to post here.');
      return postAction(req, res, segments[1]!);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'Method not allowed', 'Only GET and POST.');

    if (segments.length === 0) return send(res, 200, await runsPage(store, context(req), runsQuery(url.searchParams)), clearFlash(req));
    if (segments.length === 1 && segments[0] === 'events') {
      const query = runsQuery(url.searchParams);
      return feeds.subscribe(`runs?${query.flow ?? ''}&${query.state ?? ''}&${query.page}`, res, () => runsSignature(store, query), url.searchParams.get('since') ?? undefined);
    }
    if (segments[0] !== 'runs' || segments.length < 2) return refuse(res, 404, 'Not found', 'There is no page here.');
    const runId = segments[1]!;
    if (segments.length === 3 && segments[2] === 'events') {
      let lastSeq = 0;
      return feeds.subscribe(`run:${runId}`, res, async () => {
        const tail = await store.readTransitionLog(runId, { afterSeq: lastSeq });
        lastSeq = tail.at(-1)?.seq ?? lastSeq;
        const [run, lease] = await Promise.all([store.getRun(runId), store.getLease(runId)]);
        return run === undefined ? 'gone' : runSignature(run, lastSeq, ownerStatus(lease, Date.now()).status);
      }, url.searchParams.get('since') ?? undefined);
    }
    const run = await store.getRun(runId);
    if (run === undefined) {
      // The first 8 characters `taskmachine status` shows of a random id lead to the run, as they do on the CLI.
      const matches = await runsStartingWith(store, runId);
      if (matches.length === 1) {
        const rest = segments.slice(2).map((segment) => `/${encodeURIComponent(segment)}`).join('');
        res.writeHead(302, { location: `${runHref(base, matches[0]!)}${rest}${url.search}`, ...securityHeaders });
        return void res.end();
      }
      if (matches.length > 1) {
        return send(
          res,
          300,
          page(context(req), 'Several runs', [{ text: runId }], html`<section class="card"><h1>Several runs start with ${runId}</h1>
<p>Give more of the id; these runs start with it:</p><ul>${matches.map((id) => html`<li><a href="${runHref(base, id)}"><code>${id}</code></a></li>`)}</ul></section>`),
        );
      }
      return refuse(res, 404, 'Run not found', `There is no run '${runId}' in this store.`);
    }
    if (segments.length === 2) {
      const query = runQuery(url.searchParams);
      try {
        return send(res, 200, await runPage(store, context(req), run, query), clearFlash(req));
      } catch (error) {
        // A cursor the store did not make (edited or from another store) is a bad address, not a
        // failure of the UI — the store says so; any other store error (busy, gone) is just that.
        if (query.cursor === undefined || !(error instanceof StoreError) || !/the cursor .* was not made by this store/.test(error.message)) throw error;
        return send(
          res,
          400,
          page(context(req), 'Bad page address', [{ href: runHref(base, runId), text: runId }, { text: 'Bad page address' }], html`<section class="card"><h1>Bad page address</h1>
<p>The <code>cursor</code> in this address was not made by this store: the page links carry the cursors it gives.</p>
<p><a href="${runHref(base, runId)}#instances">The first page of run ${runId}’s task instances</a></p></section>`),
        );
      }
    }
    if (segments.length === 4 && segments[2] === 'tasks') {
      const found = await findInstance(store, runId, segments[3]!);
      if (found === undefined) return refuse(res, 404, 'Task instance not found', `Run '${runId}' has no task instance '${segments[3]}'.`);
      return send(res, 200, await instancePage(store, context(req), run, found), clearFlash(req));
    }
    return refuse(res, 404, 'Not found', 'There is no page here.');
  }

  function clearFlash(req: IncomingMessage): Record<string, string> {
    return cookies(req).has('tm_flash') ? { 'set-cookie': `tm_flash=; Max-Age=0; HttpOnly; SameSite=Strict; Path=${base || '/'}` } : {};
  }

  async function postAction(req: IncomingMessage, res: ServerResponse, runId: string): Promise<void> {
    // Cross-site requests: the browser says where a request comes from; a form of another site
    // cannot know the anti-forgery token either.
    const site = req.headers['sec-fetch-site'];
    const origin = req.headers.origin;
    if ((site !== undefined && site !== 'same-origin') || (origin !== undefined && origin !== 'null' && new URL(origin).host !== req.headers.host) || origin === 'null') {
      return refuse(res, 403, 'Cross-site request refused', 'Actions are accepted only from the UI’s own pages.');
    }
    const form = await readForm(req);
    if (form === 'too large') {
      return send(
        res,
        413,
        page({ base, csrf, readOnly, flash: undefined }, 'Payload too large', [{ href: runHref(base, runId), text: runId }, { text: 'Payload too large' }], html`<section class="card"><h1>Payload too large</h1>
<p>The form was larger than 64 KB, so nothing was applied. A payload (<code>ctx().event</code>) is meant for an answer, not for data: store large data elsewhere and send a reference to it (a path, a URL, an id).</p>
<p><a href="${runHref(base, runId)}">Back to run ${runId}</a></p></section>`),
      );
    }
    if (!sameSecret(form.get('_csrf') ?? undefined, csrf)) return refuse(res, 403, 'Form expired', 'This form was not made by this UI (or the UI restarted): reload the page and try again.');
    if (readOnly) return refuse(res, 403, 'Read-only', 'The UI runs read-only (--read-only): it takes no action.');
    const action = form.get('action') ?? '';
    if (!actions.has(action)) return refuse(res, 400, 'Unknown action', `'${action}' is not an action of this UI.`);
    const key = form.get('key') || undefined;
    if (action !== 'cancel' && key === undefined) return refuse(res, 400, 'Missing task instance', 'This action needs the key of a task instance.');
    const back = key === undefined ? runHref(base, runId) : instanceHref(base, runId, key);
    let flash: string;
    try {
      const text = form.get('payload')?.trim();
      let payload: unknown;
      if (text) {
        try {
          payload = JSON.parse(text);
        } catch {
          throw new Error(`the payload is not JSON: ${text.length > 80 ? `${text.slice(0, 80)}…` : text}`);
        }
      }
      const outcome = await applyAction(store, runId, { action: action as UiAction, ...(key ? { taskKey: key } : {}), ...(payload !== undefined ? { payload } : {}) }, source, options.continueRun);
      const how = outcome.appliedBy
        ? // (A cancel ends the run in that process; every other change lets it go on there.)
          ` (applied by ${outcome.appliedBy}; ${action === 'cancel' ? 'the run ends there' : 'the run continues there'})`
        : answers(action as UiAction) && options.continueRun
          ? ' (the run continues in the background)'
          : action === 'cancel'
            ? ''
            : ` (no process drives the run: it goes on with taskmachine resume ${shellWord(runId)}${storeArgument})`;
      // Cut before the note is added: the note says how the run goes on and must survive.
      flash = `1${cutAtWord(outcome.message, FLASH_CHARS)}${how}`;
    } catch (error) {
      flash = `0${cutAtWord((error as Error).message, FLASH_CHARS)}`;
    }
    res.writeHead(303, {
      location: back,
      'set-cookie': `tm_flash=${encodeURIComponent(flash)}; HttpOnly; SameSite=Strict; Path=${base || '/'}`,
      ...securityHeaders,
    });
    res.end();
  }

  const handler = ((req: IncomingMessage, res: ServerResponse, next?: () => void) => {
    handle(req, res, next).catch((error: unknown) => {
      if (res.headersSent) return void res.end();
      refuse(res, 500, 'Something went wrong', (error as Error).message ?? String(error));
    });
  }) as UiHandler;
  handler.close = () => feeds.close();
  return handler;
}

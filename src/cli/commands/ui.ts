import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { isIP } from 'node:net';
import { uiHandler } from '../../ui/index.ts';
import { defineCommand, UsageError } from '../command.ts';
import { storeArgument } from '../hints.ts';
import { openStore, shownStore, storeOption } from '../storeOption.ts';
import { stopBegun } from '../processGuards.ts';

/**
 * Whether the UI would listen only on this machine.
 *
 * @example
 * ```ts
 * isLoopbackBind('127.0.0.1'); // true
 * isLoopbackBind('0.0.0.0'); // false: a token is needed
 * ```
 */
export function isLoopbackBind(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

function openBrowser(url: string): void {
  const [command, ...args] = process.platform === 'darwin' ? ['open', url] : process.platform === 'win32' ? ['cmd', '/c', 'start', '', url] : ['xdg-open', url];
  const child = spawn(command!, args, { stdio: 'ignore', detached: true });
  child.on('error', () => {});
  child.unref();
}

/**
 * `taskmachine ui`: serves the web UI over the store until Ctrl-C.
 *
 * @example
 * ```ts
 * await main(['ui', '--store', 'runs.db', '--port', '0']);
 * ```
 */
export const uiCommand = defineCommand({
  name: 'ui',
  summary: 'Serve a local web page of the runs in the store: live graphs, timelines, lifecycle charts, actions',
  description:
    'Runs newest first; a run with its task graph, counts and failures, a timeline of attempts, updated\n' +
    'live while it progresses; a task instance with its transitions, attempts, logs, error, result,\n' +
    'checkpoint and lifecycle chart. Actions (resume, send event, set state, clear, cancel) take the\n' +
    'same path as the commands of the same names and are offered only when the lifecycle machine\n' +
    'allows them.\n\n' +
    'Listens on 127.0.0.1 unless --host says otherwise; any other address needs a token (one is made\n' +
    'and printed when --token is not given). Stop it with Ctrl-C.',
  args: [],
  options: {
    store: storeOption,
    port: { type: 'string', description: 'The port to listen on (0: any free port)', default: '7420', valueName: '<port>' },
    host: { type: 'string', description: 'The address to listen on', default: '127.0.0.1', valueName: '<address>' },
    token: { type: 'string', description: 'The secret every request must carry (made for you for a non-loopback --host)', valueName: '<secret>' },
    open: { type: 'boolean', description: 'Open the page in the default browser' },
    'read-only': { type: 'boolean', description: 'Show everything, offer no action' },
  },
  examples: ['taskmachine ui', 'taskmachine ui --store runs.db --port 8080 --open', 'taskmachine ui --host 0.0.0.0 --read-only'],
  async run({ options, stdout, stderr, cwd }) {
    const port = Number(options.port);
    if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new UsageError(`ui: --port must be a whole number from 0 to 65535; got '${options.port}'.`);
    const host = options.host;
    const token = options.token ?? (isLoopbackBind(host) ? undefined : randomBytes(18).toString('base64url'));
    if (options.token !== undefined && options.token.length < 8) throw new UsageError('ui: --token must be at least 8 characters long.');
    // (A store that is not there is refused, not created: a typo in --store must not leave one behind.)
    const store = await openStore(options.store, cwd, { existing: true });
    const bin = process.argv[1];
    const ui = uiHandler({
      store,
      cwd,
      readOnly: options['read-only'],
      // The commands the pages print name this store, as the CLI's own hints do.
      storeArgument: storeArgument(options.store),
      ...(token !== undefined ? { token } : {}),
      // A task resumed here goes on as `taskmachine resume-task` would: a resume in the background.
      ...(bin !== undefined
        ? {
            continueRun: (runId: string) => {
              const child = spawn(process.execPath, [bin, 'resume', runId, '--store', options.store, '--view', 'none'], { cwd, stdio: 'ignore', detached: true });
              child.on('error', (error) => stderr(`taskmachine ui: could not continue run '${runId}': ${error.message}\n`));
              child.unref();
            },
          }
        : {}),
    });
    const server = createServer(ui);
    server.on('error', () => {});
    try {
      server.listen(port, host);
      await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => Promise.reject(error as Error))]);
    } catch (error) {
      ui.close();
      await store.close();
      throw new UsageError(`ui: cannot listen on ${host}:${port}: ${(error as Error).message}`, port === 7420 ? 'Pass another --port (or 0 for any free one).' : undefined);
    }
    const address = server.address();
    const actualPort = typeof address === 'object' && address !== null ? address.port : port;
    const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
    const url = `http://${shownHost}:${actualPort}/${token !== undefined ? `?token=${token}` : ''}`;
    stdout(`taskmachine ui: ${url}\n`);
    if (options.token === undefined && token !== undefined) stdout(`Listening on ${host}, so every request needs this token (made for this run; pass --token to choose one).\n`);
    stdout(`Showing ${shownStore(options.store)}${options['read-only'] ? ' read-only' : ''}. Stop with Ctrl-C.\n`);
    if (options.open) openBrowser(url);
    const signal = await new Promise<'SIGINT' | 'SIGTERM'>((resolve) => {
      process.once('SIGINT', () => (stopBegun(), resolve('SIGINT')));
      process.once('SIGTERM', () => (stopBegun(), resolve('SIGTERM')));
    });
    ui.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await store.close();
    stdout('taskmachine ui: stopped.\n');
    return signal === 'SIGINT' ? 130 : 143;
  },
});

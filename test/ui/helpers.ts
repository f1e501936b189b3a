// Shared by the web UI's tests: a UI server on a free port over a store, and requests to it.
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { Store } from '../../src/stores/index.ts';
import { uiHandler, type UiHandler, type UiOptions } from '../../src/ui/index.ts';

export interface TestServer {
  readonly url: string;
  readonly ui: UiHandler;
  close(): Promise<void>;
}

/** Serves `uiHandler(options)` on 127.0.0.1 and a free port. */
export async function serve(options: UiOptions & { store: Store }): Promise<TestServer> {
  const ui = uiHandler(options);
  const server: Server = createServer(ui).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    ui,
    close: async () => {
      ui.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The anti-forgery token a page's forms carry. */
export function csrfOf(page: string): string {
  const token = /name="_csrf" value="([^"]+)"/.exec(page)?.[1];
  if (token === undefined) throw new Error('the page has no form with an anti-forgery token');
  return token;
}

/** Posts a form as a browser on the UI's own page would (same origin). */
export function post(url: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(url).origin, 'sec-fetch-site': 'same-origin', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

/** The flash message a redirect after an action set (its cookie), as [ok, text]. */
export function flashOf(response: Response): [boolean, string] {
  const cookie = response.headers.get('set-cookie') ?? '';
  const value = decodeURIComponent(/tm_flash=([^;]*)/.exec(cookie)?.[1] ?? '');
  return [value.startsWith('1'), value.slice(1)];
}

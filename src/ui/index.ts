/**
 * `taskmachine/ui`: the local web UI as a request handler to mount in your own `node:http`,
 * express or hono app (`taskmachine ui` serves the same handler).
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { uiHandler } from 'taskmachine/ui';
 * import { sqliteStore } from 'taskmachine/stores';
 * createServer(uiHandler({ store: sqliteStore({ path: '.taskmachine/taskmachine.db' }) })).listen(7420, '127.0.0.1');
 * ```
 * @module
 */
export { uiHandler, type UiHandler, type UiOptions } from './handler.ts';

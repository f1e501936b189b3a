// Opening a PostgreSQL store whose server is not there fails after `connectionRetries`, with the
// fix: `reconnectForMs` rides out a server lost mid-run (postgresResilience.test.ts), not a first
// connection that never worked — that used to keep every command, `status` included, silent for
// 30 s. Needs no PostgreSQL: nothing answers.
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { postgresStore, StoreConnectionError } from '../../src/stores/index.ts';
import { freePort } from '../helpers/freePort.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/** What `promise` rejects with (a test failure if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

const options = { schema: 'taskmachine', connectionRetries: 2, retryDelayMs: 0, reconnectForMs: 3_600_000 } as const;
const fix = 'Is the server running, and reachable from here? Check the host and port of the connection string.';

describe('opening a store with no server there', () => {
  it('a server that drops every connection: connectionRetries + 1 attempts, never a reconnectForMs more', async () => {
    let accepted = 0;
    let onExtra: () => void = () => {};
    const extra = new Promise<never>((_resolve, reject) => {
      onExtra = () => reject(new Error(`a connection attempt past connectionRetries (${accepted}): opening waited for reconnectForMs`));
    });
    const server = createServer((socket) => {
      accepted += 1;
      socket.destroy();
      if (accepted > options.connectionRetries + 1) onExtra();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const error = await Promise.race([rejection(postgresStore({ ...options, connectionString: `postgres://tm:hunter2@127.0.0.1:${port}/app` })), extra]);
    expect(error).toBeInstanceOf(StoreConnectionError);
    expect(error).toMatchObject({ server: `127.0.0.1:${port}/app`, outcome: 'not-written' });
    expect(error.message).toContain(`PostgreSQL at 127.0.0.1:${port}/app is unreachable`);
    expect(error.message).toContain(`after 3 attempts. Nothing was written. ${fix}`);
    expect(error.message).not.toContain('hunter2');
    expect(accepted).toBe(3);
  });

  it('a port nothing listens on (ECONNREFUSED): the same', async () => {
    const port = await freePort();
    const error = await rejection(postgresStore({ ...options, connectionString: `postgres://tm:hunter2@127.0.0.1:${port}/app` }));
    expect(error).toBeInstanceOf(StoreConnectionError);
    expect(error.message).toContain(`(connect ECONNREFUSED 127.0.0.1:${port}) after 3 attempts. Nothing was written. ${fix}`);
  });
});

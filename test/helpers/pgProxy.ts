// A TCP proxy between a PostgreSQL client and server that reads the wire protocol just enough to
// break a connection at an exact point — before the server sees a statement, or after the server
// answered it but before the client hears back — so connection-loss tests are deterministic (no
// timing, no sleeps). It also can refuse connections, like a server that is down.
import { createServer, Socket, type Server } from 'node:net';

/** Where to break the connection relative to the matching simple-protocol query. */
export type CutPoint = 'before' | 'after-reply';

interface PendingCut {
  readonly pattern: RegExp;
  readonly when: CutPoint;
  readonly done: () => void;
}

export interface PgProxy {
  /** The proxy's port on 127.0.0.1. */
  readonly port: number;
  /**
   * Breaks the next connection that sends a simple-protocol query (`Q` message: BEGIN, COMMIT, …)
   * or prepares a statement (`P` message: the first use of a named statement on a connection)
   * matching `pattern`: `before` drops it unsent, `after-reply` lets the server run it to the end
   * and drops its reply. Resolves once the cut happened.
   */
  cutOn(pattern: RegExp, when: CutPoint): Promise<void>;
  /** While on, new connections are closed at once and open ones are cut (a server that is down). */
  refuse(on: boolean): void;
  /** Cuts every open connection now (as a server restart would). */
  cutAll(): void;
  /** Connections accepted so far. */
  readonly accepted: number;
  close(): Promise<void>;
}

/** Splits `buffer` into complete messages (`typed`: 1 type byte + int32 length; else int32 length only). */
function takeMessages(buffer: Buffer, typed: boolean): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = [];
  let offset = 0;
  const header = typed ? 5 : 4;
  while (buffer.length - offset >= header) {
    const length = buffer.readInt32BE(offset + (typed ? 1 : 0)) + (typed ? 1 : 0);
    if (buffer.length - offset < length) break;
    messages.push(buffer.subarray(offset, offset + length));
    offset += length;
  }
  return { messages, rest: buffer.subarray(offset) };
}

export async function startPgProxy(target: { host: string; port: number }): Promise<PgProxy> {
  const cuts: PendingCut[] = [];
  const open = new Set<Socket>();
  let refusing = false;
  let accepted = 0;

  const server: Server = createServer((client) => {
    accepted += 1;
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = new Socket();
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    open.add(client);
    open.add(upstream);
    const cut = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', cut);
    upstream.on('error', cut);
    client.on('close', cut);
    upstream.on('close', cut);

    let fromClient = Buffer.alloc(0);
    let startupDone = false;
    /** Set once a matching query went to the server in `after-reply` mode. */
    let swallowing: PendingCut | undefined;

    client.on('data', (chunk: Buffer) => {
      fromClient = Buffer.concat([fromClient, chunk]);
      if (!startupDone) {
        const { messages, rest } = takeMessages(fromClient, false);
        if (messages.length === 0) return;
        upstream.write(messages[0]!);
        fromClient = Buffer.concat([...messages.slice(1).map((m) => Buffer.from(m)), rest]);
        startupDone = true;
      }
      const { messages, rest } = takeMessages(fromClient, true);
      fromClient = Buffer.from(rest);
      for (const message of messages) {
        let query: string | undefined;
        if (message[0] === 0x51 /* Q */) query = message.subarray(5, message.length - 1).toString('utf8');
        if (message[0] === 0x50 /* P: name \0 query \0 … */) {
          const nameEnd = message.indexOf(0, 5);
          query = message.subarray(nameEnd + 1, message.indexOf(0, nameEnd + 1)).toString('utf8');
        }
        if (query !== undefined) {
          const index = cuts.findIndex((c) => c.pattern.test(query));
          if (index >= 0) {
            const [pending] = cuts.splice(index, 1);
            if (pending!.when === 'before') {
              cut();
              pending!.done();
              return;
            }
            swallowing = pending;
          }
        }
        upstream.write(message);
      }
    });

    let fromServer = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      if (swallowing === undefined) {
        // Forward whole messages only, so a cut can always fall between two of them.
        fromServer = Buffer.concat([fromServer, chunk]);
        const { messages, rest } = takeMessages(fromServer, true);
        fromServer = Buffer.from(rest);
        for (const message of messages) client.write(message);
        return;
      }
      fromServer = Buffer.concat([fromServer, chunk]);
      const { messages, rest } = takeMessages(fromServer, true);
      fromServer = Buffer.from(rest);
      // The server's answer ends with ReadyForQuery: it has finished the statement.
      if (messages.some((m) => m[0] === 0x5a /* Z */)) {
        const pending = swallowing;
        swallowing = undefined;
        cut();
        pending.done();
      }
    });

    upstream.connect(target.port, target.host);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };

  const cutAll = (): void => {
    for (const socket of open) socket.destroy();
    open.clear();
  };

  return {
    port,
    get accepted() {
      return accepted;
    },
    cutOn(pattern, when) {
      return new Promise<void>((resolve) => cuts.push({ pattern, when, done: resolve }));
    },
    refuse(on) {
      refusing = on;
      if (on) cutAll();
    },
    cutAll,
    close() {
      cutAll();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// A TCP port on 127.0.0.1 that nothing listens on now, for servers the tests and benches start
// themselves (PostgreSQL, Redis).
import { createServer } from 'node:net';

/** A free port on 127.0.0.1 (asked of the OS: listen on port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

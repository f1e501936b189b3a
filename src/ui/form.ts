import type { IncomingMessage } from 'node:http';

/** The largest form an action accepts (its payload included). */
const FORM_BYTES = 65_536;
/**
 * How much of a larger form is read (and dropped) so the browser gets the 413 page: a connection
 * closed while the browser still sends shows it a network error instead. Beyond this, it is closed.
 */
const DRAIN_BYTES = 16 * 1024 * 1024;

/**
 * The posted form, or `'too large'` when it exceeds {@link FORM_BYTES} (the rest is read and
 * dropped, so the caller can still answer 413).
 *
 * @example
 * ```ts
 * const form = await readForm(req);
 * if (form === 'too large') return send(res, 413, tooLargePage);
 * ```
 */
export function readForm(req: IncomingMessage): Promise<URLSearchParams | 'too large'> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > DRAIN_BYTES) {
        resolve('too large');
        req.destroy();
      } else if (size <= FORM_BYTES) {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(size > FORM_BYTES ? 'too large' : new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

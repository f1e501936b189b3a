import type { ServerResponse } from 'node:http';

/**
 * Server-sent events that tell pages when what they show has changed. One poller per distinct
 * subject (a run, a page of the runs list) however many pages watch it: it asks the store for a
 * cheap signature every `intervalMs` while someone listens and stops when the last page leaves.
 * The page is told `change` and fetches itself once; it never polls.
 *
 * @example
 * ```ts
 * const feeds = new LiveFeeds(500);
 * feeds.subscribe(`run:${runId}`, res, () => signatureOf(runId), since);
 * ```
 */
export class LiveFeeds {
  readonly #intervalMs: number;
  readonly #feeds = new Map<string, { clients: Map<ServerResponse, string | undefined>; timer: ReturnType<typeof setInterval>; signature: string | undefined; polling: boolean }>();

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /** How many subjects are polled now (for tests). */
  get size(): number {
    return this.#feeds.size;
  }

  /**
   * Streams `change` events for `subject` to `res` until the client goes away. `since` is the
   * signature the page was rendered at: a change between the render and the subscription is told
   * at once.
   */
  subscribe(subject: string, res: ServerResponse, signature: () => Promise<string>, since?: string): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`retry: 2000\n: watching ${subject.replace(/[\r\n]/g, ' ')}\n\n`);
    let feed = this.#feeds.get(subject);
    if (feed === undefined) {
      const created = { clients: new Map<ServerResponse, string | undefined>(), signature: undefined as string | undefined, polling: false, timer: undefined as unknown as ReturnType<typeof setInterval> };
      let quietTicks = 0;
      const tick = async () => {
        if (created.polling) return;
        created.polling = true;
        try {
          const next = await signature();
          let told = false;
          for (const [client, seen] of created.clients) {
            const known = seen ?? created.signature;
            if (seen !== undefined) created.clients.set(client, undefined);
            if (known !== undefined && known !== next) {
              client.write(`event: change\ndata: ${Date.now()}\n\n`);
              told = true;
            }
          }
          if (told) quietTicks = 0;
          else if (++quietTicks * this.#intervalMs >= 15_000) {
            quietTicks = 0;
            for (const client of created.clients.keys()) client.write(': still here\n\n');
          }
          created.signature = next;
        } catch {
          // The store may be busy or closing: try again on the next tick.
        } finally {
          created.polling = false;
        }
      };
      created.timer = setInterval(() => void tick(), this.#intervalMs);
      created.timer.unref();
      feed = created;
      this.#feeds.set(subject, feed);
      feed.clients.set(res, since);
      void tick();
    } else {
      feed.clients.set(res, since);
    }
    const leave = () => {
      const current = this.#feeds.get(subject);
      if (current === undefined) return;
      current.clients.delete(res);
      if (current.clients.size === 0) {
        clearInterval(current.timer);
        this.#feeds.delete(subject);
      }
    };
    res.on('close', leave);
  }

  /** Ends every stream and stops every poller. */
  close(): void {
    for (const feed of this.#feeds.values()) {
      clearInterval(feed.timer);
      for (const client of feed.clients.keys()) client.end();
    }
    this.#feeds.clear();
  }
}

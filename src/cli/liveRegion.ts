import cliTruncate from 'cli-truncate';
import { stripVTControlCharacters } from 'node:util';
import stringWidth from 'string-width';

/**
 * The terminal a {@link LiveRegion} draws on. {@link ttyTerminal} makes one for `process.stdout`;
 * tests pass a virtual terminal.
 *
 * @example
 * ```ts
 * const terminal: LiveTerminal = { write: (text) => out.push(text), columns: () => 80, rows: () => 24 };
 * ```
 */
export interface LiveTerminal {
  /** Writes text, escape sequences included, to the terminal. */
  write(text: string): void;
  /** The terminal's width in columns now. */
  columns(): number;
  /** The terminal's height in rows now. */
  rows(): number;
  /** Calls `listener` after the terminal changed size; returns the function that stops it. */
  onResize?(listener: () => void): () => void;
}

/**
 * Options of {@link createLiveRegion}.
 *
 * @example
 * ```ts
 * createLiveRegion(terminal, { defer: (redraw) => { queue.push(redraw); return () => {}; } });
 * ```
 */
export interface LiveRegionOptions {
  /**
   * Schedules the redraw of the frame after {@link LiveRegion.print} took it away, and returns a
   * function that cancels it: lines printed in one turn of the event loop cost one redraw.
   * @default runs the redraw with `setImmediate`
   */
  readonly defer?: (redraw: () => void) => () => void;
  /**
   * How long the frame stays away after the terminal changed size, in ms: it comes back once the
   * size has been the same for that long. tmux re-wraps its screen at once but tells the program
   * of a second resize up to 250 ms later; a frame drawn in between would be erased by a wrong
   * count of rows.
   * @default 500
   */
  readonly settleMs?: number;
  /**
   * Runs `callback` after `ms` and returns a function that cancels it.
   * @default `setTimeout`, not keeping the process alive
   */
  readonly after?: (ms: number, callback: () => void) => () => void;
}

/**
 * A frame of lines redrawn in place at the bottom of a terminal, with text printed above it that
 * is never erased. Every line is cut to the terminal's width (counted in columns: wide characters
 * count two, escape sequences none) and the frame to the terminal's height less one row, so the
 * frame never wraps or scrolls out of reach; how a redraw finds the frame, also after a resize, is
 * told at {@link createLiveRegion}.
 *
 * @example
 * ```ts
 * const region = createLiveRegion(ttyTerminal(process.stdout));
 * region.render(['etl  [████░░░░] 2/4', 'running: clean#1']);
 * region.print('[clean#1] 12 rows\n'); // above the frame, which is drawn again below it
 * region.clear(); // the frame is gone; what was printed stays
 * ```
 */
export interface LiveRegion {
  /** Replaces the frame with these lines (each one line of text; longer ones are cut). */
  render(lines: readonly string[]): void;
  /**
   * Prints `text` above the frame: the frame is erased, `text` (completed to whole lines) goes out
   * through `write`, and the frame is drawn again below it.
   * @param write Where the text goes, e.g. the stderr of the same terminal. Default: the terminal.
   */
  print(text: string, write?: (text: string) => void): void;
  /** Erases the frame and forgets it; a later {@link LiveRegion.render} draws a new one. */
  clear(): void;
}

// Synchronized output (DEC mode 2026): a terminal that knows it shows the redraw at once, with
// no flicker; the others ignore it.
const BEGIN_SYNC = '\x1b[?2026h';
const END_SYNC = '\x1b[?2026l';

/**
 * Makes a {@link LiveRegion} on a terminal.
 *
 * The cursor waits at the start of the line below the frame (where terminals keep it when they
 * re-wrap), and a redraw moves up over the rows the frame takes at the terminal's width now: one a
 * line, or more for a line the terminal re-wrapped when it got narrower (tmux, xterm.js, VTE,
 * iTerm2, kitty and Windows Terminal do). When the size changes the frame is erased at once and
 * comes back when the size has settled (see {@link LiveRegionOptions.settleMs}); the size is read
 * again before every redraw. A redraw that only changes lines of the same footprint (a ticking
 * clock) is patched in place without erasing (see {@link patchInPlace}), so it stays right when the
 * terminal re-wrapped before the program could read its new size. A full redraw or a
 * {@link LiveRegion.print} written at that very moment still counts rows at the old width: no
 * relative redraw can know, and the terminal does not say.
 *
 * @example
 * ```ts
 * const region = createLiveRegion(ttyTerminal(process.stdout));
 * region.render([`${done}/${total} done`]);
 * ```
 */
export function createLiveRegion(terminal: LiveTerminal, options: LiveRegionOptions = {}): LiveRegion {
  const defer = options.defer ?? deferToNextTurn;
  const after = options.after ?? timeout;
  const settleMs = options.settleMs ?? 500;
  /** The lines last rendered, as given. */
  let latest: readonly string[] = [];
  /** What is on the screen: the lines as drawn, their widths, and the width they were fitted to; undefined when nothing is. */
  let drawn: { lines: readonly string[]; widths: readonly number[]; columns: number } | undefined;
  /** The terminal's width when last looked at. */
  let knownColumns: number | undefined;
  let settling: (() => void) | undefined;
  let cancelRedraw: (() => void) | undefined;
  let stopListening: (() => void) | undefined;

  const columns = () => Math.max(1, Math.floor(terminal.columns()) || 80);
  const height = () => Math.max(1, (Math.floor(terminal.rows()) || 24) - 1);
  /** Takes the frame off the screen: back to the start of its first row, and erase to the end of the screen. */
  const erase = (): string => {
    if (drawn === undefined) return '';
    const width = columns();
    const rows = drawn.lines.reduce((sum, line, index) => sum + (drawn!.widths[index]! <= width ? 1 : rowsAt(line, width)), 0);
    drawn = undefined;
    return `\r${rows > 0 ? `\x1b[${rows}A` : ''}\x1b[J`;
  };
  const cancelPendingRedraw = () => {
    cancelRedraw?.();
    cancelRedraw = undefined;
  };
  /** The size changed: the frame goes now, with rows counted at the new width, and comes back when the size settles. */
  const resized = () => {
    knownColumns = columns();
    cancelPendingRedraw();
    const before = erase();
    if (before) terminal.write(before);
    settling?.();
    settling = after(settleMs, () => {
      settling = undefined;
      show();
    });
  };
  /** Whether the frame may be drawn now (looking at the width first). */
  const mayDraw = (): boolean => {
    if (knownColumns !== undefined && columns() !== knownColumns) resized();
    knownColumns = columns();
    return settling === undefined;
  };
  const show = () => {
    if (!mayDraw() || latest.length === 0) return;
    const width = columns();
    const lines = latest.slice(0, height()).map((line) => fitLine(line, width));
    if (drawn !== undefined && drawn.columns === width) {
      if (sameLines(lines, drawn.lines)) return;
      const patch = patchInPlace(drawn.lines, lines);
      if (patch !== undefined) {
        drawn = { lines, widths: drawn.widths, columns: width };
        terminal.write(`${BEGIN_SYNC}${patch}${END_SYNC}`);
        return;
      }
    }
    cancelPendingRedraw();
    const before = erase();
    drawn = { lines, widths: lines.map((line) => stringWidth(line)), columns: width };
    stopListening ??= terminal.onResize?.(resized);
    terminal.write(`${BEGIN_SYNC}${before}${lines.map((line) => `${line}\n`).join('')}${END_SYNC}`);
  };

  return {
    render(lines) {
      latest = [...lines];
      show();
    },
    print(text, write = terminal.write) {
      if (text === '') return;
      mayDraw();
      const before = erase();
      if (before) terminal.write(before);
      write(text.endsWith('\n') ? text : `${text}\n`);
      if (latest.length > 0 && settling === undefined && cancelRedraw === undefined) {
        cancelRedraw = defer(() => {
          cancelRedraw = undefined;
          show();
        });
      }
    },
    clear() {
      cancelPendingRedraw();
      settling?.();
      settling = undefined;
      stopListening?.();
      stopListening = undefined;
      mayDraw();
      const before = erase();
      if (before) terminal.write(before);
      latest = [];
    },
  };
}

const graphemes = new Intl.Segmenter();

/**
 * The writes that turn the frame `before` into `after` without erasing it, when they differ only
 * in lines of the same footprint (e.g. a clock that ticks); undefined when the frame must be
 * drawn again.
 *
 * Why: the terminal may re-wrap its screen before the program hears of a resize (tmux reflows at
 * once and tells the program at the end of its loop, or up to 250 ms later), so a redraw written
 * in between counts rows at the old width. An erase counted too short leaves the top rows of the
 * old frame behind for good. A patch erases nothing: it moves up, rewrites a row with auto-wrap
 * off (a line too wide for the new width cannot spill into the row below or scroll the screen),
 * and moves back down by the same count, so whatever it lands on lies inside the frame's rows. As
 * every line keeps its footprint, the rows the frame takes at any width stay what the region
 * counts, and the erase after the resize takes them all.
 *
 * @example
 * ```ts
 * patchInPlace(['etl 0.1s', 'running: a'], ['etl 0.2s', 'running: a']); // rewrites the first row only
 * ```
 */
export function patchInPlace(before: readonly string[], after: readonly string[]): string | undefined {
  if (before.length !== after.length) return undefined;
  let patch = '';
  for (let index = 0; index < after.length; index++) {
    const line = after[index]!;
    if (line === before[index]) continue;
    if (!sameFootprint(before[index]!, line)) return undefined;
    const up = after.length - index;
    patch += `\x1b[${up}A\r\x1b[2K${line}\x1b[${up}B\r`;
  }
  return `${NO_WRAP}${patch}${WRAP}`;
}

const NO_WRAP = '\x1b[?7l';
const WRAP = '\x1b[?7h';

/** Whether two lines take the same rows at every width: as wide, and one column per character. */
function sameFootprint(a: string, b: string): boolean {
  const width = stringWidth(a);
  return width === stringWidth(b) && narrowOnly(a, width) && narrowOnly(b, width);
}

function narrowOnly(line: string, width: number): boolean {
  let count = 0;
  for (const _ of graphemes.segment(stripVTControlCharacters(line))) count++;
  return count === width;
}

/**
 * The rows a line takes on a terminal `width` columns wide that wraps it: a wide character that
 * does not fit in the last column goes to the next row whole.
 *
 * @example
 * ```ts
 * rowsAt('x'.repeat(100), 40); // 3
 * rowsAt('a日本', 2); // 3: 'a', '日', '本'
 * ```
 */
export function rowsAt(line: string, width: number): number {
  let rows = 1;
  let column = 0;
  for (const { segment } of graphemes.segment(stripVTControlCharacters(line))) {
    const cells = stringWidth(segment);
    if (cells === 0) continue;
    if (column + cells > width) {
      rows++;
      column = 0;
    }
    column += cells;
  }
  return rows;
}

function timeout(ms: number, callback: () => void): () => void {
  const timer = setTimeout(callback, ms);
  timer.unref();
  return () => clearTimeout(timer);
}

function deferToNextTurn(redraw: () => void): () => void {
  const immediate = setImmediate(redraw);
  return () => clearImmediate(immediate);
}

function sameLines(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((line, index) => line === b[index]);
}

// Colour and style sequences (SGR) are kept; any other escape sequence or control character would
// move the cursor where the region does not expect it, so it is dropped (a tab becomes a space).
const CONTROL = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]?|[\x00-\x08\x0a-\x1a\x1c-\x1f\x7f-\x9f]/g;

/**
 * One line of text as it can stand in a frame `width` columns wide: control characters and escape
 * sequences other than colours removed, tabs as spaces, cut with `…` when it is wider.
 *
 * @example
 * ```ts
 * fitLine('a very long line', 8); // 'a very …'
 * fitLine('日本語のタスク', 6); // '日本…' (wide characters take two columns)
 * ```
 */
export function fitLine(line: string, width: number): string {
  const clean = line.replace(/\t/g, ' ').replace(CONTROL, (match) => (/^\x1b\[[0-9;:]*m$/.test(match) ? match : ''));
  return stringWidth(clean) <= width ? clean : cliTruncate(clean, width);
}

/**
 * A {@link LiveTerminal} on a TTY stream. It writes with the stream's own `write` as it is now, so
 * that what {@link routeProcessOutput} later routes does not come back to the region.
 *
 * @example
 * ```ts
 * const region = createLiveRegion(ttyTerminal(process.stdout));
 * ```
 */
export function ttyTerminal(stream: NodeJS.WriteStream): LiveTerminal {
  const write = stream.write;
  // Asked of the terminal each time (an ioctl), not remembered from the last SIGWINCH.
  const size = (): [number, number] => {
    try {
      return stream.isTTY ? (stream.getWindowSize() as [number, number]) : [stream.columns ?? 80, stream.rows ?? 24];
    } catch {
      return [stream.columns ?? 80, stream.rows ?? 24];
    }
  };
  return {
    write: (text) => {
      write.call(stream, text);
    },
    columns: () => size()[0],
    rows: () => size()[1],
    onResize: (listener) => {
      stream.on('resize', listener);
      return () => stream.off('resize', listener);
    },
  };
}

/**
 * While a live region is shown, sends whatever else the process writes to `process.stdout` and
 * `process.stderr` (a task's `console.log`, a library's warning) to `print`, whole lines at a time,
 * so it lands above the frame instead of under it. Returns the function that stops it, which also
 * writes a last unfinished line.
 *
 * @example
 * ```ts
 * const restore = routeProcessOutput((text, write) => region.print(text, write));
 * // … the run …
 * restore();
 * ```
 */
export function routeProcessOutput(
  print: (text: string, write: (text: string) => void) => void,
  streams: readonly NodeJS.WriteStream[] = [process.stdout, process.stderr],
): () => void {
  const restores = streams.map((stream) => {
    const original = stream.write;
    const write = (text: string) => {
      original.call(stream, text);
    };
    let partial = '';
    stream.write = function routedWrite(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
      const done = typeof encoding === 'function' ? encoding : callback;
      const text =
        typeof chunk === 'string'
          ? chunk
          : Buffer.from(chunk as Uint8Array).toString(typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
      partial += text;
      const end = partial.lastIndexOf('\n');
      if (end >= 0) {
        const lines = partial.slice(0, end + 1);
        partial = partial.slice(end + 1);
        print(lines, write);
      }
      if (typeof done === 'function') process.nextTick(done as () => void);
      return true;
    } as typeof stream.write;
    return () => {
      stream.write = original;
      if (partial !== '') print(partial, write);
    };
  });
  return () => {
    for (const restore of restores) restore();
  };
}

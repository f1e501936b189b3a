// A terminal emulator in memory (xterm.js, the one VS Code's terminal uses) for the live view's
// tests: what is written to it lands on a screen of cells, lines wrap and reflow on resize as in a
// real terminal, and a test reads back every row with whether the terminal wrapped it.
import xterm from '@xterm/headless';
import type { LiveTerminal } from '../../src/cli/liveRegion.ts';

export interface Row {
  /** The row's text, trailing blanks removed. */
  readonly text: string;
  /** Whether this row continues the one above (the terminal wrapped a line that was too wide). */
  readonly wrapped: boolean;
}

export interface VirtualTerminal {
  readonly terminal: LiveTerminal;
  /** Every row, scrollback first, up to the last one that is not blank. */
  rows(): Promise<Row[]>;
  /** The text of every row (see {@link VirtualTerminal.rows}). */
  lines(): Promise<string[]>;
  /**
   * Changes the size; the terminal reflows its rows. By default the program is told at once:
   * `columns()`/`rows()` say the new size and the resize listeners run. `'size'` only updates the
   * size (the signal has not been handled yet); `'later'` tells nothing until
   * {@link VirtualTerminal.announce}, as tmux does for a second resize within 250 ms: its screen is
   * re-wrapped at once, the program hears of it when a timer fires.
   */
  resize(columns: number, rows: number, tell?: 'now' | 'size' | 'later'): Promise<void>;
  /** Tells the program the terminal's size now: `columns()`/`rows()` say it, resize listeners run. */
  announce(): void;
  /** Everything written so far, escape sequences included. */
  readonly written: string[];
}

export function virtualTerminal(columns: number, rows: number): VirtualTerminal {
  const emulator = new xterm.Terminal({ cols: columns, rows, scrollback: 10_000, allowProposedApi: true });
  const listeners = new Set<() => void>();
  let reported = { columns, rows };
  const written: string[] = [];
  // The region writes '\n' as a TTY with onlcr would show it: back to column 0 and down one row.
  const write = (text: string) => {
    written.push(text);
    emulator.write(text.replace(/\n/g, '\r\n'));
  };
  const settled = () => new Promise<void>((resolve) => emulator.write('', resolve));
  const readRows = async (): Promise<Row[]> => {
    await settled();
    const buffer = emulator.buffer.active;
    const out: Row[] = [];
    for (let index = 0; index < buffer.length; index++) {
      const line = buffer.getLine(index)!;
      out.push({ text: line.translateToString(true), wrapped: line.isWrapped });
    }
    while (out.length > 0 && out.at(-1)!.text === '' && !out.at(-1)!.wrapped) out.pop();
    return out;
  };
  return {
    terminal: {
      write,
      columns: () => reported.columns,
      rows: () => reported.rows,
      onResize(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    },
    rows: readRows,
    lines: async () => (await readRows()).map((row) => row.text),
    async resize(newColumns, newRows, tell = 'now') {
      await settled();
      emulator.resize(newColumns, newRows);
      if (tell === 'size') reported = { columns: newColumns, rows: newRows };
      if (tell === 'now') this.announce();
    },
    announce() {
      reported = { columns: emulator.cols, rows: emulator.rows };
      for (const listener of listeners) listener();
    },
    written,
  };
}

import { describe, expect, it } from 'vitest';
import stringWidth from 'string-width';
import { createLiveRegion, fitLine, routeProcessOutput, rowsAt } from '../../src/cli/liveRegion.ts';
import { virtualTerminal } from './virtualTerminal.ts';

/** A `defer` that runs the redraws when the test says so, as the event loop would later. */
function manualDefer() {
  const queue: (() => void)[] = [];
  return {
    defer: (redraw: () => void) => {
      queue.push(redraw);
      return () => queue.splice(queue.indexOf(redraw) >>> 0, 1);
    },
    flush: () => {
      for (const redraw of queue.splice(0)) redraw();
    },
  };
}

/** An `after` whose callbacks run when the test says so. */
function manualTimers() {
  const pending = new Set<() => void>();
  return {
    after: (_ms: number, callback: () => void) => {
      pending.add(callback);
      return () => pending.delete(callback);
    },
    run: () => {
      for (const callback of [...pending]) {
        pending.delete(callback);
        callback();
      }
    },
  };
}

const frameOf = (step: number, width: number) => [
  `frame ${step} ${'='.repeat(width + step)}`, // wider than the terminal
  `\x1b[42m success ${step} \x1b[0m 日本語のタスク ${'界'.repeat(width)}`, // colours, then wide characters
  ...Array.from({ length: step % 3 }, (_, index) => `running: task_${index}#1`), // the height changes
];

describe('createLiveRegion', () => {
  it('cuts every line to the terminal width (wide characters count two), so nothing wraps', async () => {
    const vt = virtualTerminal(80, 24);
    const region = createLiveRegion(vt.terminal);
    region.render(frameOf(1, 80));
    const rows = await vt.rows();
    expect(rows.map((row) => row.wrapped)).toEqual([false, false, false]);
    expect(rows[0]!.text).toBe(`frame 1 ${'='.repeat(71)}…`);
    expect(rows[1]!.text.startsWith(' success 1  日本語のタスク 界界')).toBe(true);
    expect(stringWidth(rows[1]!.text)).toBeLessThanOrEqual(80);
  });

  it('redraws in place and prints lines above the frame that no redraw erases', async () => {
    const vt = virtualTerminal(80, 24);
    const { defer, flush } = manualDefer();
    const region = createLiveRegion(vt.terminal, { defer });
    const printed: string[] = [];
    for (let step = 0; step < 12; step++) {
      region.render(frameOf(step, 80));
      const line = `[task#${step}] log line ${step}`;
      printed.push(line);
      // Half of them arrive as two lines in one write; on odd steps the redraw comes before the next frame.
      if (step % 2 === 0) region.print(`${line}\n`);
      else {
        printed.push(`${line}, second line`);
        region.print(`${line}\n${line}, second line`);
        flush();
      }
    }
    region.render(frameOf(99, 80));
    const rows = await vt.rows();
    expect(rows.some((row) => row.wrapped)).toBe(false);
    const frame = frameOf(99, 80).map((line) => fitLine(line, 80).replace(/\x1b\[[0-9;]*m/g, '').trimEnd());
    expect(rows.map((row) => row.text)).toEqual([...printed, ...frame]);
    region.clear();
    expect(await vt.lines()).toEqual(printed);
  });

  it('sends printed text through the given writer, between erasing the frame and drawing it again', async () => {
    const vt = virtualTerminal(40, 10);
    const { defer, flush } = manualDefer();
    const region = createLiveRegion(vt.terminal, { defer });
    region.render(['progress 1/2']);
    const viaStderr: string[] = [];
    region.print('from stderr', (text) => {
      viaStderr.push(text);
      vt.terminal.write(text);
    });
    expect(viaStderr).toEqual(['from stderr\n']);
    expect(await vt.lines()).toEqual(['from stderr']);
    flush();
    expect(await vt.lines()).toEqual(['from stderr', 'progress 1/2']);
  });

  it('is correct after the terminal gets narrower or wider: the re-wrapped frame is erased whole', async () => {
    const vt = virtualTerminal(80, 24);
    const timers = manualTimers();
    const region = createLiveRegion(vt.terminal, { after: timers.after });
    region.print('a line printed before');
    region.render(frameOf(2, 80));
    for (const [columns, rows] of [
      [50, 24],
      [33, 12],
      [120, 30],
      [80, 24],
    ] as const) {
      await vt.resize(columns, rows);
      expect(await vt.lines()).toEqual(['a line printed before']); // erased at once
      timers.run(); // the size settled
      region.render(frameOf(columns, columns));
      const screen = await vt.rows();
      const frame = frameOf(columns, columns).map((line) => fitLine(line, columns).replace(/\x1b\[[0-9;]*m/g, '').trimEnd());
      expect(screen.map((row) => row.text)).toEqual(['a line printed before', ...frame]);
      expect(screen.some((row) => row.wrapped)).toBe(false);
    }
  });

  it('keeps the frame away while the size settles, so a resize the program hears of late leaves nothing stale', async () => {
    const vt = virtualTerminal(80, 24);
    const timers = manualTimers();
    const region = createLiveRegion(vt.terminal, { after: timers.after });
    region.print('a line printed before');
    region.render(frameOf(2, 80));
    // tmux: the first resize is told at once, a second one soon after only when its timer fires.
    await vt.resize(50, 24);
    region.render(frameOf(3, 50));
    await vt.resize(30, 12, 'later');
    region.render(frameOf(4, 50));
    region.print('a line printed in between');
    expect(await vt.lines()).toEqual(['a line printed before', 'a line printed in between']);
    vt.announce();
    timers.run();
    region.render(frameOf(5, 30));
    const frame = frameOf(5, 30).map((line) => fitLine(line, 30).replace(/\x1b\[[0-9;]*m/g, '').trimEnd());
    const screen = await vt.rows();
    expect(screen.map((row) => row.text)).toEqual(['a line printed before', 'a line printed in between', ...frame]);
    expect(screen.some((row) => row.wrapped)).toBe(false);
  });

  it('a tick drawn after the terminal re-wrapped but before the program heard of it leaves nothing stale', async () => {
    // tmux re-wraps its screen when it is resized and sets the size the program reads at the end
    // of its loop (or 250 ms later): a frame written just before is drawn on the re-wrapped screen.
    const vt = virtualTerminal(80, 24);
    const timers = manualTimers();
    const region = createLiveRegion(vt.terminal, { after: timers.after });
    const tick = (tenths: number) => [`etl  [${'#'.repeat(tenths % 10)}${'-'.repeat(9 - (tenths % 10))}] 3/9  ${(tenths / 10).toFixed(1)}s`, 'x'.repeat(79), 'running: a#1'];
    region.print('a line printed before');
    region.render(tick(1));
    await vt.resize(50, 24, 'later');
    region.render(tick(2)); // rows counted for 80 columns on a screen 50 wide
    region.render(tick(3));
    vt.announce();
    timers.run();
    region.render(tick(4));
    const screen = await vt.rows();
    expect(screen.map((row) => row.text)).toEqual(['a line printed before', ...tick(4).map((line) => fitLine(line, 50))]);
    expect(screen.some((row) => row.wrapped)).toBe(false);
  });

  it('redraws a line that changed without erasing the frame when its footprint is the same, else the whole frame', async () => {
    const vt = virtualTerminal(40, 10);
    const region = createLiveRegion(vt.terminal);
    region.render(['clock 0.1s', 'running: a#1']);
    vt.written.length = 0;
    region.render(['clock 0.2s', 'running: a#1']);
    expect(vt.written.join('')).not.toContain('\x1b[J');
    expect(await vt.lines()).toEqual(['clock 0.2s', 'running: a#1']);
    region.render(['clock 0.2s', 'running: 日本#1']); // wide characters: drawn again
    expect(vt.written.join('')).toContain('\x1b[J');
    expect(await vt.lines()).toEqual(['clock 0.2s', 'running: 日本#1']);
  });

  it('reads the size before each redraw: a resize whose signal is not handled yet is seen too', async () => {
    const vt = virtualTerminal(80, 24);
    const timers = manualTimers();
    const region = createLiveRegion(vt.terminal, { after: timers.after });
    region.print('a line printed before');
    region.render(frameOf(2, 80));
    await vt.resize(40, 24, 'size');
    region.render(frameOf(3, 80));
    expect(await vt.lines()).toEqual(['a line printed before']);
    timers.run();
    region.render(frameOf(4, 40));
    const frame = frameOf(4, 40).map((line) => fitLine(line, 40).replace(/\x1b\[[0-9;]*m/g, '').trimEnd());
    expect(await vt.lines()).toEqual(['a line printed before', ...frame]);
  });

  it('cuts a frame taller than the terminal to its height less one row, so it never scrolls away', async () => {
    const vt = virtualTerminal(40, 10);
    const region = createLiveRegion(vt.terminal);
    const tall = (step: number) => Array.from({ length: 30 }, (_, index) => `step ${step} line ${index}`);
    region.render(tall(1));
    region.render(tall(2));
    const lines = await vt.lines();
    // Nothing scrolled into the scrollback: the whole buffer is the last frame's first nine lines.
    expect(lines).toEqual(tall(2).slice(0, 9));
  });

  it('counts the rows a line takes when the terminal wraps it, a wide character moving to the next row whole', () => {
    expect(rowsAt('x'.repeat(80), 80)).toBe(1);
    expect(rowsAt('x'.repeat(81), 80)).toBe(2);
    expect(rowsAt(`\x1b[1m${'x'.repeat(80)}\x1b[0m`, 40)).toBe(2);
    expect(rowsAt(`x${'日'.repeat(40)}`, 40)).toBe(3); // 39 columns + 1 empty, 40, 2
  });

  it('drops escape sequences and control characters that would move the cursor, keeps colours', () => {
    expect(fitLine('a\x1b[2Ab\rc\td\x07e\x1b]0;title\x07f', 80)).toBe('abc de' + 'f');
    expect(fitLine('\x1b[1mbold\x1b[0m', 80)).toBe('\x1b[1mbold\x1b[0m');
    expect(stringWidth(fitLine('👩‍🔬'.repeat(50), 9))).toBeLessThanOrEqual(9);
  });
});

describe('routeProcessOutput', () => {
  it('routes whole lines written to the streams to print, keeps an unfinished one until the end', () => {
    const raw: string[] = [];
    const stream = { write: (text: string) => raw.push(text) } as unknown as NodeJS.WriteStream;
    const printed: string[] = [];
    const restore = routeProcessOutput((text, write) => {
      printed.push(text);
      write(text);
    }, [stream]);
    stream.write('one\ntw');
    stream.write(Buffer.from('o\nthree'));
    expect(printed).toEqual(['one\n', 'two\n']);
    restore();
    expect(printed).toEqual(['one\n', 'two\n', 'three']);
    stream.write('after\n');
    expect(raw).toEqual(['one\n', 'two\n', 'three', 'after\n']);
  });
});

import { stateTextColor, type TaskInstanceState } from '../../machines/index.ts';
import { stateHex } from '../viz/colors.ts';

/**
 * Whether to colour output: a TTY and no `NO_COLOR` (https://no-color.org).
 *
 * @example
 * ```ts
 * useColor(process.stdout.isTTY === true); // false when NO_COLOR=1
 * ```
 */
export function useColor(isTTY: boolean): boolean {
  return isTTY && !process.env.NO_COLOR;
}

/**
 * `text` on the state's background colour (24-bit ANSI, the CSS value of its `stateColors` name),
 * or plain when `color` is false.
 *
 * @example
 * ```ts
 * paintState('success', ' success 3 ', true); // '\x1b[48;2;0;128;0m\x1b[38;2;255;255;255m success 3 \x1b[0m'
 * ```
 */
export function paintState(state: TaskInstanceState, text: string, color: boolean): string {
  if (!color) return text;
  const hex = stateHex(state);
  const [r, g, b] = [1, 3, 5].map((at) => Number.parseInt(hex.slice(at, at + 2), 16));
  const fg = stateTextColor(state) === 'white' ? '38;2;255;255;255' : '38;2;0;0;0';
  return `\x1b[48;2;${r};${g};${b}m\x1b[${fg}m${text}\x1b[0m`;
}

/**
 * `text` in bold, or plain when `color` is false.
 *
 * @example
 * ```ts
 * bold('etl', true); // '\x1b[1metl\x1b[0m'
 * ```
 */
export const bold = (text: string, color: boolean): string => (color ? `\x1b[1m${text}\x1b[0m` : text);
/**
 * `text` dimmed, or plain when `color` is false.
 *
 * @example
 * ```ts
 * dim('… 3 more lines', false); // '… 3 more lines'
 * ```
 */
export const dim = (text: string, color: boolean): string => (color ? `\x1b[2m${text}\x1b[0m` : text);

import { stateColors, stateTextColor, type TaskInstanceState } from '../../machines/index.ts';

/** RGB of the CSS colour names the lifecycle uses (Airflow's palette). */
const rgb: Readonly<Record<string, readonly [number, number, number]>> = {
  lightblue: [173, 216, 230],
  tan: [210, 180, 140],
  gray: [128, 128, 128],
  lime: [0, 255, 0],
  green: [0, 128, 0],
  red: [255, 0, 0],
  gold: [255, 215, 0],
  turquoise: [64, 224, 208],
  orange: [255, 165, 0],
  hotpink: [255, 105, 180],
  mediumpurple: [147, 112, 219],
  lightgrey: [211, 211, 211],
  violet: [238, 130, 238],
  lightyellow: [255, 255, 224],
};

/** Whether to colour output: a TTY and no `NO_COLOR` (https://no-color.org). */
export function useColor(isTTY: boolean): boolean {
  return isTTY && !process.env.NO_COLOR;
}

/** `text` on the state's background colour (24-bit ANSI), or plain when `color` is false. */
export function paintState(state: TaskInstanceState, text: string, color: boolean): string {
  if (!color) return text;
  const [r, g, b] = rgb[stateColors[state]] ?? [255, 255, 255];
  const fg = stateTextColor(state) === 'white' ? '38;2;255;255;255' : '38;2;0;0;0';
  return `\x1b[48;2;${r};${g};${b}m\x1b[${fg}m${text}\x1b[0m`;
}

export const bold = (text: string, color: boolean): string => (color ? `\x1b[1m${text}\x1b[0m` : text);
export const dim = (text: string, color: boolean): string => (color ? `\x1b[2m${text}\x1b[0m` : text);

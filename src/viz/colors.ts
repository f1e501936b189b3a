import { stateColors, stateTextColor, type TaskInstanceState } from '../../machines/index.ts';

/**
 * The CSS colours the lifecycle's palette (`stateColors`, Airflow's) and its text colours use, as
 * hex values. Renderers do not agree on colour names: in Graphviz (X11 colours) `green` is
 * `#00ff00`, the same bright green as CSS `lime`, so a DOT file must say `#008000` for success to
 * differ from running. Browsers (Mermaid) and terminals read the CSS values.
 *
 * @example
 * ```ts
 * import { cssColors } from 'taskmachine/viz';
 * cssColors.green; // '#008000'
 * cssColors.lime; // '#00ff00'
 * ```
 */
export const cssColors: Readonly<Record<string, string>> = Object.freeze({
  lightblue: '#add8e6',
  tan: '#d2b48c',
  gray: '#808080',
  lime: '#00ff00',
  green: '#008000',
  red: '#ff0000',
  gold: '#ffd700',
  turquoise: '#40e0d0',
  orange: '#ffa500',
  hotpink: '#ff69b4',
  mediumpurple: '#9370db',
  lightgrey: '#d3d3d3',
  violet: '#ee82ee',
  lightyellow: '#ffffe0',
  white: '#ffffff',
  black: '#000000',
});

/**
 * A colour as a hex value when it is one of {@link cssColors}' names; anything else (a hex value,
 * another name) as given.
 *
 * @example
 * ```ts
 * hexColor('green'); // '#008000'
 * hexColor('#123456'); // '#123456'
 * ```
 */
export function hexColor(color: string): string {
  return cssColors[color.toLowerCase()] ?? color;
}

/**
 * A task-instance state's fill colour as a hex value (its `stateColors` name, as CSS reads it).
 *
 * @example
 * ```ts
 * import { stateHex } from 'taskmachine/viz';
 * stateHex('success'); // '#008000'
 * stateHex('running'); // '#00ff00'
 * ```
 */
export function stateHex(state: TaskInstanceState): string {
  return hexColor(stateColors[state]);
}

/**
 * The hex value of the text colour that reads well on a state's fill (`stateTextColor`).
 *
 * @example
 * ```ts
 * stateTextHex('failed'); // '#ffffff'
 * ```
 */
export function stateTextHex(state: TaskInstanceState): string {
  return hexColor(stateTextColor(state));
}

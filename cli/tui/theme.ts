/**
 * Colours of the terminal UI. With NO_COLOR (https://no-color.org) or a terminal without colours,
 * components get `undefined` for every colour, so Ink writes plain text; bold and inverse (the
 * selection) stay, as they are not colours.
 */
import { createContext } from 'react';

export type ColorName = 'green' | 'red' | 'yellow' | 'cyan' | 'magenta' | 'blue' | 'gray' | 'white';

export interface Theme {
  /** the colour to pass to Ink's `<Text color>`, or undefined without colours */
  c(name: ColorName): ColorName | undefined;
  color: boolean;
}

export function theme(color: boolean): Theme {
  return { color, c: (name) => (color ? name : undefined) };
}

export const ThemeContext = createContext<Theme>(theme(true));

/** colours for instance prefixes in the logs, as `meshbox up` prints them */
export const PREFIX_COLORS: readonly ColorName[] = ['cyan', 'magenta', 'blue', 'yellow', 'green'];

/** a stable colour per instance name */
export function prefixColor(name: string): ColorName {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return PREFIX_COLORS[h % PREFIX_COLORS.length]!;
}

export function statusColor(status: number): ColorName {
  if (status === 0 || status >= 500) return 'red';
  if (status >= 400) return 'yellow';
  return 'green';
}

/** success rate colour: green from 99 %, yellow from 90 %, else red */
export function successColor(success: number | undefined): ColorName {
  if (success === undefined) return 'gray';
  if (success >= 99) return 'green';
  if (success >= 90) return 'yellow';
  return 'red';
}

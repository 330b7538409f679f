/**
 * What the views draw: lines of styled spans, cut to the screen's width and turned into ANSI
 * text here, so a whole view reaches Ink as one string in one fixed-size text node (see
 * Block.tsx). Views build lines as plain data; tests read them as text.
 *
 * Widths count code points: the UI's own symbols (─ █ ░ ▸ ✓ ✗ ⏸) are one column wide, and names,
 * paths and headers from the mesh are ASCII in practice.
 */
import type { ColorName } from './theme.js';

export interface Span {
  text: string;
  color?: ColorName | undefined;
  bold?: boolean;
  dim?: boolean;
  inverse?: boolean;
}

export type Line = Span[];

export type Style = Omit<Span, 'text'>;

export function span(text: string, style: Style = {}): Span {
  return { text, ...style };
}

/** a line of one span */
export function line(text: string, style: Style = {}): Line {
  return [{ text, ...style }];
}

/** every span of the line with `style` added (a selected row: inverse) */
export function restyle(l: Line, style: Style): Line {
  return l.map((s) => ({ ...s, ...style }));
}

const FG: Record<ColorName, number> = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, white: 37, gray: 90 };

function sgr(s: Span, color: boolean): string {
  const codes: number[] = [];
  if (s.bold) codes.push(1);
  if (s.dim) codes.push(2);
  if (s.inverse) codes.push(7);
  if (color && s.color) codes.push(FG[s.color]);
  return codes.length ? `\u001b[${codes.join(';')}m` : '';
}

/**
 * The line as terminal text, at most `width` columns (cut with `…`); without `color`, colours
 * are left out but bold and inverse stay (NO_COLOR is about colour).
 */
export function toAnsi(l: Line, width: number, color: boolean): string {
  // cut to the width first (by code points), then style runs of equal style once each
  const total = l.reduce((n, s) => n + [...s.text].length, 0);
  let budget = total > width ? Math.max(0, width - 1) : width;
  let out = '';
  let run = '';
  let runStyle = '';
  const flush = (): void => {
    if (run) out += runStyle ? `${runStyle}${run}\u001b[0m` : run;
    run = '';
  };
  for (const s of l) {
    if (budget <= 0) break;
    const chars = [...s.text];
    const text = chars.length > budget ? chars.slice(0, budget).join('') : s.text;
    budget -= Math.min(budget, chars.length);
    if (!text) continue;
    const style = sgr(s, color);
    if (style !== runStyle) {
      flush();
      runStyle = style;
    }
    run += text;
  }
  if (total > width && width > 0) run += '…';
  // trailing padding is not drawn (Ink works per character; a selected row keeps its bar)
  else if (!/[[;]7[;m]/.test(runStyle)) run = run.trimEnd();
  flush();
  return out;
}

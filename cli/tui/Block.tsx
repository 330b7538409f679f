/**
 * A fixed-size block of lines: the one way the UI puts text on the screen.
 *
 * Every line is cut to the width and the block is handed to Ink as one string in one text node
 * whose width and height are set, so Yoga never measures it. That matters: Ink 6 keeps every
 * string it measures in module-level caches that are never emptied (vadimdemedes/ink#986, fixed
 * only in Ink 7, which needs Node 22), which would grow by every distinct frame of a live
 * dashboard. It is also far less work per frame than a tree of nested <Text> elements.
 */
import { createElement } from 'react';
import { toAnsi, type Line } from './lines.js';
import { useTheme } from './use-theme.js';

export interface BlockProps {
  lines: readonly Line[];
  width: number;
  height: number;
}

export function Block({ lines, width, height }: BlockProps) {
  const t = useTheme();
  const text = lines
    .slice(0, height)
    .map((l) => toAnsi(l, width, t.color))
    .join('\n');
  // Ink's host text element with an explicit size (the <Text> component cannot take one)
  return createElement('ink-text', { style: { width, height, flexGrow: 0, flexShrink: 0, textWrap: 'truncate-end' } }, text);
}

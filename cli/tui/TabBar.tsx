import { Block } from './Block.js';
import { VIEW_TITLES, VIEWS, type ViewName } from './keymap.js';
import { span, type Line } from './lines.js';

export interface TabBarProps {
  view: ViewName;
  width: number;
  /** shown next to some tabs, e.g. the number of faults */
  badges?: Partial<Record<ViewName, string>>;
}

/** ` 1 Services   2 Graph   3 Traffic ...` with the current view highlighted */
export function tabLine(view: ViewName, width: number, badges: Partial<Record<ViewName, string>> = {}): Line {
  const short = width < 70;
  const out: Line = [];
  VIEWS.forEach((v, i) => {
    const title = short ? VIEW_TITLES[v].slice(0, 4) : VIEW_TITLES[v];
    const text = ` ${i + 1} ${title}${badges[v] ? ` ${badges[v]}` : ''} `;
    out.push(v === view ? span(text, { inverse: true, bold: true, color: 'cyan' }) : span(text), span(' '));
  });
  out.push(span('? help', { color: 'gray' }));
  return out;
}

export function TabBar({ view, width, badges }: TabBarProps) {
  return <Block lines={[tabLine(view, width, badges)]} width={width} height={1} />;
}

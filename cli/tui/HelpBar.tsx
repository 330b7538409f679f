/**
 * The one-line key hint at the bottom, like k9s's: the bindings of the current view that matter
 * most, `?` for the rest.
 */
import { Block } from './Block.js';
import { KEYMAP, keyLabel, type ViewName } from './keymap.js';
import { span, type Line } from './lines.js';

export function helpBarLine(view: ViewName, width: number): Line {
  const items = KEYMAP.filter((b) => b.bar && (!b.views || b.views.includes(view)));
  const nav = view === 'graph' ? [] : view === 'traffic' || view === 'services' || view === 'faults' ? [['↑↓', 'select']] : [['↑↓', 'scroll']];
  const pairs = [...nav, ...items.map((b) => [keyLabel(b.keys[0]!), b.label])];
  const out: Line = [];
  let used = 0;
  for (const [k, label] of pairs) {
    const w = k!.length + label!.length + 4;
    if (used + w > width) break;
    out.push(span(`<${k}>`, { color: 'cyan', bold: true }), span(` ${label} `, { color: 'gray' }));
    used += w;
  }
  return out;
}

export function HelpBar({ view, width }: { view: ViewName; width: number }) {
  return <Block lines={[helpBarLine(view, width)]} width={width} height={1} />;
}

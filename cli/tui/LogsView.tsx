/**
 * Logs: every instance's output with a coloured prefix (as Shopify CLI's ConcurrentOutput and
 * `meshbox up` print them), interleaved with meshbox's own lifecycle lines. A bounded window:
 * the store keeps the last lines in a ring, the view shows what fits, following the tail until
 * paused.
 */
import { Block } from './Block.js';
import { cell, clockSeconds } from './format.js';
import { span, type Line } from './lines.js';
import { prefixColor } from './theme.js';
import type { LogLine } from './view-store.js';

export interface LogsViewProps {
  /** after the filter, oldest first */
  lines: readonly LogLine[];
  total: number;
  paused: boolean;
  filter: string;
  /** lines scrolled up from the tail */
  scroll: number;
  width: number;
  height: number;
}

export function logText(l: LogLine): string {
  return `${l.source} ${l.text}`.toLowerCase();
}

export function logsLines({ lines, total, paused, filter, scroll, height }: LogsViewProps): Line[] {
  const body = Math.max(1, height - 1);
  const end = Math.max(0, lines.length - scroll);
  const visible = lines.slice(Math.max(0, end - body), end);
  const prefixWidth = Math.min(24, Math.max(8, ...visible.map((l) => l.source.length)) + 1);
  const out: Line[] = [
    [
      paused ? span('⏸ paused (space follows)', { color: 'yellow' }) : span('▶ following', { color: 'green' }),
      span(`  ${filter ? `filter "${filter}": ${lines.length} of ${total} lines` : `last ${lines.length} lines`}${scroll > 0 ? `, ${scroll} below` : ''}`, { color: 'gray' }),
    ],
  ];
  if (visible.length === 0) out.push([span(filter ? 'no line matches the filter (esc clears it)' : 'no output yet', { color: 'gray' })]);
  for (const l of visible) {
    const own = l.stream === 'meshbox';
    const color = own ? (l.level === 'error' ? 'red' : l.level === 'warn' ? 'yellow' : 'gray') : prefixColor(l.source);
    out.push([
      span(`${clockSeconds(l.time)} `, { color: 'gray' }),
      span(`${cell(l.source, prefixWidth - 1)}│ `, { color }),
      span(l.text, { color: own && l.level !== 'info' ? color : l.stream === 'stderr' ? 'yellow' : undefined }),
    ]);
  }
  return out;
}

export function LogsView(props: LogsViewProps) {
  return <Block lines={logsLines(props)} width={props.width} height={props.height} />;
}

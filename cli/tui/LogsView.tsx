/**
 * Logs: every instance's output with a coloured prefix (as Shopify CLI's ConcurrentOutput and
 * `meshbox up` print them), interleaved with meshbox's own lifecycle lines. A bounded window:
 * the store keeps the last lines in a ring, the view shows what fits, following the tail until
 * paused.
 */
import { Box, Text } from 'ink';
import { cell, clockSeconds, truncate } from './format.js';
import { prefixColor } from './theme.js';
import { useTheme } from './use-theme.js';
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

export function LogsView({ lines, total, paused, filter, scroll, width, height }: LogsViewProps) {
  const t = useTheme();
  const body = Math.max(1, height - 1);
  const end = Math.max(0, lines.length - scroll);
  const visible = lines.slice(Math.max(0, end - body), end);
  const prefixWidth = Math.min(24, Math.max(8, ...visible.map((l) => l.source.length)) + 1);
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text wrap="truncate-end">
        <Text color={t.c(paused ? 'yellow' : 'green')}>{paused ? '⏸ paused (space follows)' : '▶ following'}</Text>
        <Text color={t.c('gray')}>
          {'  '}
          {filter ? `filter "${filter}": ${lines.length} of ${total} lines` : `last ${lines.length} lines`}
          {scroll > 0 ? `, ${scroll} below` : ''}
        </Text>
      </Text>
      {visible.length === 0 ? <Text color={t.c('gray')}>{filter ? 'no line matches the filter (esc clears it)' : 'no output yet'}</Text> : null}
      {visible.map((l) => {
        const own = l.stream === 'meshbox';
        const color = own ? (l.level === 'error' ? 'red' : l.level === 'warn' ? 'yellow' : 'gray') : prefixColor(l.source);
        return (
          <Text key={l.seq} wrap="truncate-end">
            <Text color={t.c('gray')}>{clockSeconds(l.time)} </Text>
            <Text color={t.c(color)}>{cell(l.source, prefixWidth - 1)}│ </Text>
            <Text color={own && l.level !== 'info' ? t.c(color) : l.stream === 'stderr' ? t.c('yellow') : undefined}>{truncate(l.text, Math.max(1, width - prefixWidth - 11))}</Text>
          </Text>
        );
      })}
    </Box>
  );
}

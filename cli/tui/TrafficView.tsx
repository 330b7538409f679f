/**
 * Live traffic, like `linkerd viz tap`: one row per hop (reporter=source, so a request through
 * the ingress and caller shows as two rows), newest at the bottom, following the stream until
 * paused (space) or a row is selected (↑). The rows come from the store's bounded tap ring; the
 * header says how fast they arrive.
 */
import { Box, Text } from 'ink';
import type { RequestEvent } from '../../sandbox/events.js';
import { cell, clockSeconds, col, duration, matchedRoute, rps } from './format.js';
import { statusColor } from './theme.js';
import { destinationOf, hopFlags, type UpstreamLookup } from './traffic.js';
import { useTheme } from './use-theme.js';

export interface TrafficViewProps {
  /** the rows after the filter, oldest first */
  events: readonly RequestEvent[];
  /** rows before the filter */
  total: number;
  hopRps: number;
  ingressRps: number;
  paused: boolean;
  filter: string;
  selected: RequestEvent | undefined;
  upstream: UpstreamLookup;
  width: number;
  height: number;
}

interface Columns {
  time: number;
  route: number;
  hop: number;
  method: number;
  path: number;
  status: number;
  latency: number;
  flags: number;
  attempts: number;
}

/** the hop gets its room first (`caller-service-v1-1 -> callme-service-v2-1`), then path and route */
function layout(width: number): Columns {
  const time = width >= 100 ? 9 : 0;
  const fixed = time + 7 + 5 + 8 + 7 + 4;
  const rest = Math.max(24, width - fixed);
  const hop = Math.max(16, Math.min(45, rest - 12));
  const route = width >= 110 ? Math.min(30, Math.max(0, rest - hop - 14)) : 0;
  return { time, route, hop, method: 7, path: rest - hop - route, status: 5, latency: 8, flags: 7, attempts: 4 };
}

export function TrafficView({ events, total, hopRps, ingressRps, paused, filter, selected, upstream, width, height }: TrafficViewProps) {
  const t = useTheme();
  const cols = layout(width);
  const body = Math.max(1, height - 2);
  let start: number;
  const index = selected ? events.indexOf(selected) : -1;
  if (index >= 0) start = Math.max(0, Math.min(index - Math.floor(body / 2), events.length - body));
  else start = Math.max(0, events.length - body);
  const visible = events.slice(start, start + body);

  const status = paused ? '⏸ paused (space follows)' : '▶ following';
  const header =
    col('TIME', cols.time) +
    col('SOURCE -> DESTINATION', cols.hop) +
    col('METHOD', cols.method) +
    col('PATH', cols.path) +
    col('CODE', cols.status) +
    col('LATENCY', cols.latency, 'right') +
    col('FLAGS', cols.flags) +
    col('ATT', cols.attempts) +
    cell('ROUTE', cols.route);

  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text wrap="truncate-end">
        <Text color={t.c(paused ? 'yellow' : 'green')}>{status}</Text>
        <Text color={t.c('gray')}>
          {'  '}
          {rps(ingressRps)} req/s at the ingress, {rps(hopRps)} hops/s{'  '}
          {filter ? `filter "${filter}": ${events.length} of ${total} rows kept` : `last ${events.length} hops`}
        </Text>
      </Text>
      <Text color={t.c('gray')} wrap="truncate-end">
        {header}
      </Text>
      {visible.length === 0 ? (
        <Text color={t.c('gray')}>{filter ? 'no hop matches the filter (esc clears it)' : 'no traffic yet: press l to start load, or curl the ingress'}</Text>
      ) : (
        visible.map((e, i) => {
          const flags = hopFlags(e, upstream);
          const isSelected = e === selected;
          return (
            <Text key={i} inverse={isSelected} wrap="truncate-end">
              {cols.time ? <Text color={t.c('gray')}>{col(clockSeconds(e.startTime + e.durationMs), cols.time)}</Text> : null}
              <Text>{col(`${e.proxy} -> ${destinationOf(e)}`, cols.hop)}</Text>
              <Text>{col(e.method, cols.method)}</Text>
              <Text>{col(e.path, cols.path)}</Text>
              <Text color={t.c(statusColor(e.status))}>{col(String(e.status), cols.status)}</Text>
              <Text>{col(duration(e.durationMs), cols.latency, 'right')}</Text>
              <Text color={t.c(flags.length ? 'red' : 'gray')}>{col(flags.join(',') || '-', cols.flags)}</Text>
              <Text color={t.c(e.attempts > 1 ? 'yellow' : 'gray')}>{col(String(e.attempts), cols.attempts)}</Text>
              {cols.route ? <Text color={t.c('cyan')}>{cell(matchedRoute(e.why, e.routeName), cols.route)}</Text> : null}
            </Text>
          );
        })
      )}
    </Box>
  );
}

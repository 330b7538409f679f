/**
 * Live traffic, like `linkerd viz tap`: one row per hop (reporter=source, so a request through
 * the ingress and caller shows as two rows), newest at the bottom, following the stream until
 * paused (space) or a row is selected (↑). The rows come from the store's bounded tap ring; the
 * header says how fast they arrive. Upgraded streams (WebSocket) still open are listed on one
 * line under the header (`⇄ open`); each becomes a row, status 101, when it closes.
 * A mirrored copy (VirtualService mirror) has its own row,
 * `sender ~> mirror` in gray, from the mirror's inbound sidecar (its sender reports none).
 */
import type { RequestEvent } from '../../sandbox/events.js';
import type { OpenStream } from './view-store.js';
import { Block } from './Block.js';
import { cell, clockSeconds, col, duration, matchedRoute, rps } from './format.js';
import { line, restyle, span, type Line } from './lines.js';
import { statusColor } from './theme.js';
import { destinationOf, hopFlags, isTcpRow, type UpstreamLookup } from './traffic.js';

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
  /** upgraded streams open now (the snapshot's traffic.open) */
  open?: readonly OpenStream[];
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

/** FLAGS is as wide as the longest flags shown (`UF,URX,FI`), within these bounds */
const FLAGS_MIN = 7;
const FLAGS_MAX = 21;

/** the hop gets its room first (`caller-service-v1-1 -> callme-service-v2-1`), then path and route */
function layout(width: number, flagsText: number): Columns {
  const time = width >= 100 ? 9 : 0;
  const flags = Math.min(FLAGS_MAX, Math.max(FLAGS_MIN, flagsText + 1));
  const fixed = time + 7 + 5 + 8 + flags + 4;
  const rest = Math.max(24, width - fixed);
  const hop = Math.max(16, Math.min(45, rest - 12));
  const route = width >= 110 ? Math.min(30, Math.max(0, rest - hop - 14)) : 0;
  return { time, route, hop, method: 7, path: Math.max(0, rest - hop - route), status: 5, latency: 8, flags, attempts: 4 };
}

/** `⇄ 2 upgraded streams open: a -> b GET /chat (websocket since 12:00:01), ...`: the newest first */
function openLine(open: readonly OpenStream[]): Line {
  const shown = [...open].reverse().slice(0, 5).map((o) => `${o.proxy} -> ${o.destination} ${o.method} ${o.path} (${o.upgrade} since ${clockSeconds(o.since)})`);
  const more = open.length > shown.length ? `, +${open.length - shown.length} more` : '';
  return [
    span(`⇄ ${open.length} upgraded stream${open.length === 1 ? '' : 's'} open`, { color: 'cyan' }),
    span(`: ${shown.join(', ')}${more}`, { color: 'gray' }),
  ];
}

export function trafficLines({ events, total, hopRps, ingressRps, paused, filter, selected, upstream, open = [], width, height }: TrafficViewProps): Line[] {
  const body = Math.max(1, height - 2 - (open.length > 0 ? 1 : 0));
  const index = selected ? events.indexOf(selected) : -1;
  const start = index >= 0 ? Math.max(0, Math.min(index - Math.floor(body / 2), events.length - body)) : Math.max(0, events.length - body);
  const visible = events.slice(start, start + body);
  const flagsOf = new Map(visible.map((e) => [e, hopFlags(e, upstream).join(',') || '-']));
  const cols = layout(width, Math.max(0, ...[...flagsOf.values()].map((f) => f.length)));
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
  const lines: Line[] = [
    [
      paused ? span('⏸ paused (space follows)', { color: 'yellow' }) : span('▶ following', { color: 'green' }),
      span(`  ${rps(ingressRps)} req/s at the ingress, ${rps(hopRps)} hops/s  ${filter ? `filter "${filter}": ${events.length} of ${total} rows kept` : `last ${events.length} hops`}`, { color: 'gray' }),
    ],
    ...(open.length > 0 ? [openLine(open)] : []),
    line(header, { color: 'gray' }),
  ];
  if (events.length === 0) {
    lines.push(line(filter ? 'no hop matches the filter (esc clears it)' : 'no traffic yet: press l to start load, or curl the ingress', { color: 'gray' }));
    return lines;
  }
  for (const e of visible) {
    const flags = flagsOf.get(e)!;
    const row: Line = [
      ...(cols.time ? [span(col(clockSeconds(e.startTime + e.durationMs), cols.time), { color: 'gray' })] : []),
      span(col(e.shadowOf ? `${e.shadowOf} ~> ${destinationOf(e)}` : `${e.proxy} -> ${destinationOf(e)}`, cols.hop), e.shadowOf ? { color: 'gray' } : {}),
      span(col(e.method, cols.method)),
      span(col(e.path, cols.path)),
      isTcpRow(e) ? span(col('-', cols.status), { color: 'gray' }) : span(col(String(e.status), cols.status), { color: statusColor(e.status) }),
      span(col(duration(e.durationMs), cols.latency, 'right')),
      span(col(flags, cols.flags), { color: flags !== '-' ? 'red' : 'gray' }),
      span(col(String(e.attempts), cols.attempts), { color: e.attempts > 1 ? 'yellow' : 'gray' }),
      ...(cols.route ? [span(matchedRoute(e.why, e.routeName), { color: 'cyan' })] : []),
    ];
    lines.push(e === selected ? restyle(row, { inverse: true }) : row);
  }
  return lines;
}

export function TrafficView(props: TrafficViewProps) {
  return <Block lines={trafficLines(props)} width={props.width} height={props.height} />;
}

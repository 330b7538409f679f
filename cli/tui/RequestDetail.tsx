/**
 * One hop in detail, to answer "why did my request go there?": the route that matched and why
 * (RequestEvent.why, as the router explains itself), faults that fired on this hop or at its
 * upstream sidecar, retries, the upstream cluster and host, the request headers, and every other
 * hop of the same request (same x-request-id).
 */
import type { RequestEvent } from '../../sandbox/events.js';
import { whyWithSummary } from '../../sandbox/proxy/routing/route-explainer.js';
import { Block } from './Block.js';
import { clock, duration, matchedRoute, shortPathsIn, wrap } from './format.js';
import { line, type Line } from './lines.js';
import type { ColorName } from './theme.js';
import { statusColor } from './theme.js';
import { destinationOf, hopFlags, upstreamOf } from './traffic.js';

export interface DetailLine {
  text: string;
  color?: ColorName;
  bold?: boolean;
}

const isFaultLine = (line: string): boolean => /^fault[ :]/.test(line);
const isAttemptLine = (line: string): boolean => /attempt|retr|timeout|back-off/.test(line);

/**
 * the detail of hop `e`, given every event of its request (both reporters, all hops); `why`:
 * its reasons in full (SandboxController.explainRequest), else the event's own with the
 * skipped routes summed up
 */
export function detailLines(e: RequestEvent, chain: readonly RequestEvent[], why: readonly string[] = whyWithSummary(e)): DetailLine[] {
  const lines: DetailLine[] = [];
  const add = (text: string, color?: ColorName, bold?: boolean): void => void lines.push({ text, color, bold });
  const upstream = upstreamOf(e, chain);
  const flags = hopFlags(e, () => upstream);

  add(`${e.method} ${e.authority}${e.path}   x-request-id ${e.requestId}`, undefined, true);
  add(`${e.proxy} -> ${destinationOf(e)}   ${e.status} ${e.responseCodeDetails}   ${duration(e.durationMs)}   attempts ${e.attempts}   flags ${flags.join(',') || '-'}`, statusColor(e.status));
  add(`at ${clock(e.startTime)}   reporter ${e.reporter} (${e.listener})   rules snapshot v${e.snapshotVersion}   route ${matchedRoute(e.why, e.routeName)}`, 'gray');
  if (e.trace) add(`trace ${e.trace.traceId}   span ${e.trace.spanId}${e.trace.parentSpanId ? ` (parent ${e.trace.parentSpanId})` : ' (root)'}   ${e.trace.sampled ? 't opens its waterfall' : 'not sampled'}`, 'gray');
  add('');

  add('WHY', 'cyan', true);
  if (why.length === 0) add('  (the proxy gave no reasons)', 'gray');
  why.forEach((w, i) => add(`  ${i + 1}. ${shortPathsIn(w)}`, isFaultLine(w) ? 'magenta' : undefined));
  add('');

  add('FAULTS', 'cyan', true);
  const faults = [...e.why.filter(isFaultLine).map((w) => `  ${e.proxy}: ${w}`)];
  for (const u of upstream) for (const w of u.why.filter(isFaultLine)) faults.push(`  ${u.proxy} (inbound): ${w}`);
  if (faults.length === 0) add('  none fired on this hop', 'gray');
  for (const f of faults) add(f, f.includes('not injected') ? 'gray' : 'magenta');
  add('');

  add('RETRIES', 'cyan', true);
  const attempts = e.why.filter(isAttemptLine);
  add(`  ${e.attempts} attempt${e.attempts === 1 ? '' : 's'}${e.attempts > 1 ? ` (${e.attempts - 1} retr${e.attempts === 2 ? 'y' : 'ies'})` : ''}`, e.attempts > 1 ? 'yellow' : undefined);
  for (const a of attempts) add(`  ${a}`);
  for (const u of upstream) add(`  at ${u.proxy}: ${u.status} ${duration(u.durationMs)}${u.responseFlags !== '-' ? ` ${u.responseFlags}` : ''}`, statusColor(u.status));
  add('');

  add('UPSTREAM', 'cyan', true);
  add(`  cluster ${e.upstreamCluster ?? '-'}   host ${e.upstreamHost ?? '-'}   endpoint ${e.endpoint ?? '-'}   upstream time ${e.upstreamServiceTimeMs !== undefined ? duration(e.upstreamServiceTimeMs) : '-'}`);
  if (e.upstreamTransportFailureReason) add(`  transport failure: ${e.upstreamTransportFailureReason}`, 'red');
  if (e.connectionSecurity) add(`  ${e.reporter === 'source' ? 'to upstream' : 'from downstream'}: ${e.connectionSecurity === 'mutual_tls' ? 'mTLS' : e.connectionSecurity === 'tls' ? 'TLS' : 'plaintext'}`, e.connectionSecurity === 'none' ? 'yellow' : 'green');
  add('');

  add(`REQUEST HEADERS (as ${e.proxy} received them)`, 'cyan', true);
  const headers = Object.entries(e.requestHeaders).sort(([a], [b]) => a.localeCompare(b));
  if (headers.length === 0) add('  (none)', 'gray');
  for (const [k, v] of headers) add(`  ${k}: ${v}`);
  add('');

  add('THE WHOLE REQUEST (every hop with this x-request-id)', 'cyan', true);
  const hops = chain.filter((x) => x.reporter === 'source' || x.shadowOf).sort((a, b) => a.startTime - b.startTime);
  for (const h of hops) {
    add(`  ${clock(h.startTime)} ${h.shadowOf ? `${h.shadowOf} -> ${destinationOf(h)} (mirrored copy, answer discarded)` : `${h.proxy} -> ${destinationOf(h)}`}   ${h.status} ${duration(h.durationMs)}${h.attempts > 1 ? `   attempts ${h.attempts}` : ''}${h === e ? '   ◀ this hop' : ''}`, h === e ? 'white' : statusColor(h.status), h === e);
  }
  if (hops.length === 0) add('  (no other hop is kept)', 'gray');
  return lines;
}

export interface RequestDetailProps {
  event: RequestEvent;
  chain: readonly RequestEvent[];
  /** the event's reasons in full (see detailLines) */
  why?: readonly string[];
  scroll: number;
  width: number;
  height: number;
}

/** the detail's lines as shown: long ones (why, headers) wrapped to the width */
export function detailScreenLines(e: RequestEvent, chain: readonly RequestEvent[], width: number, why?: readonly string[]): DetailLine[] {
  const out: DetailLine[] = [];
  for (const l of detailLines(e, chain, why)) {
    const indent = (/^ */.exec(l.text)![0].length) + 3;
    for (const text of wrap(l.text, width, indent)) out.push({ ...l, text });
    if (!l.text) out.push(l);
  }
  return out;
}

export function RequestDetail({ event, chain, why, scroll, width, height }: RequestDetailProps) {
  const lines = detailScreenLines(event, chain, width, why);
  const body = Math.max(1, height - 1);
  const start = Math.max(0, Math.min(scroll, lines.length - body));
  const title = `REQUEST DETAIL  esc back${lines.length > body ? `  ↑↓ scroll (${start + 1}-${Math.min(lines.length, start + body)} of ${lines.length})` : ''}`;
  const shown: Line[] = [line(title, { color: 'gray' }), ...lines.slice(start, start + body).map((l) => line(l.text, { color: l.color, bold: l.bold }))];
  return <Block lines={shown} width={width} height={height} />;
}

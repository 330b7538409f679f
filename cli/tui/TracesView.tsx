/**
 * Traces, from the sandbox's built-in trace store (no back-end needed): the list of recent
 * traces (root, services touched, spans, duration, errors, retries), newest first; enter opens a
 * waterfall of one trace: every span indented under its parent, a bar at its place in time, and
 * under each client span its attempts, the failed ones and the fault that fired. From a request
 * in Traffic, `t` opens its trace here.
 */
import type { Span } from '../../sandbox/telemetry/tracing/span.js';
import { summarize, waterfall, type StoredTrace } from '../../sandbox/telemetry/tracing/trace-store.js';
import { Block } from './Block.js';
import { cell, clockSeconds, col, duration } from './format.js';
import { line, restyle, span, type Line } from './lines.js';
import { statusColor } from './theme.js';
import type { TracingStats } from '../../sandbox/telemetry/tracing/tracer.js';

export interface TracesViewProps {
  /** newest first */
  traces: readonly StoredTrace[];
  /** the selected row (list) */
  selected: string | undefined;
  /** the trace whose waterfall is open */
  open: StoredTrace | undefined;
  scroll: number;
  width: number;
  height: number;
  /** false: tracing is off in this sandbox */
  enabled: boolean;
  stats?: TracingStats;
}

/** `sampling 100% · OTLP http://...: 812 exported, 0 dropped, 3 failed (connection refused)` */
export function statsLine(stats: TracingStats | undefined): Line {
  if (!stats) return [];
  const parts: Line = [span(`sampling ${stats.samplingPercent}%  ${stats.spans} spans`, { color: 'gray' })];
  if (stats.malformedContext > 0) parts.push(span(`  ${stats.malformedContext} malformed trace headers replaced`, { color: 'yellow' }));
  if (stats.exporters.length === 0) parts.push(span('  no exporter (--otlp-endpoint, --zipkin)', { color: 'gray' }));
  for (const x of stats.exporters) {
    const bad = x.dropped > 0 || x.failed > 0;
    parts.push(span(`  ${x.name} ${x.url}: ${x.exported} exported, ${x.dropped} dropped, ${x.failed} failed${x.lastError && x.failed > 0 ? ` (${x.lastError})` : ''}`, { color: bad ? 'red' : 'gray' }));
  }
  return parts;
}

export function traceListLines({ traces, selected, width, height, enabled, stats }: TracesViewProps): Line[] {
  if (!enabled) return [line('tracing is off in this sandbox (started with --no-tracing)', { color: 'gray' })];
  const lines: Line[] = [
    line(`${traces.length} recent traces, newest first  (enter: waterfall, esc: back)`, { color: 'gray' }),
  ];
  if (stats) {
    lines.push(statsLine(stats));
    height -= 1;
  }
  const w = { time: 9, trace: 10, root: Math.max(16, Math.min(44, width - 9 - 10 - 6 - 9 - 5 - 5 - 24)), spans: 6, dur: 9, err: 5, retry: 5 };
  const servicesWidth = Math.max(0, width - w.time - w.trace - w.root - w.spans - w.dur - w.err - w.retry);
  lines.push(line(col('TIME', w.time) + col('TRACE', w.trace) + col('ROOT', w.root) + col('SPANS', w.spans) + col('DURATION', w.dur, 'right') + col('ERR', w.err, 'right') + col('RETR', w.retry, 'right') + cell(' SERVICES', servicesWidth), { color: 'gray' }));
  if (traces.length === 0) {
    lines.push(line('no trace yet: send a request (press l for load, or curl the ingress)', { color: 'gray' }));
    return lines;
  }
  const body = Math.max(1, height - 2);
  const index = Math.max(0, traces.findIndex((t) => t.traceId === selected));
  const start = Math.max(0, Math.min(index - Math.floor(body / 2), traces.length - body));
  for (const t of traces.slice(start, start + body)) {
    const s = summarize(t);
    const row: Line = [
      span(col(clockSeconds(s.startUs / 1000), w.time), { color: 'gray' }),
      span(col(t.traceId.slice(0, 8), w.trace), { color: 'cyan' }),
      span(col(`${s.complete ? '' : '⚠ '}${s.root}`, w.root), { color: s.complete ? undefined : 'yellow' }),
      span(col(String(s.spans), w.spans)),
      span(col(duration(s.durationUs / 1000), w.dur, 'right')),
      span(col(String(s.errors), w.err, 'right'), { color: s.errors > 0 ? 'red' : 'gray' }),
      span(col(String(s.retries), w.retry, 'right'), { color: s.retries > 0 ? 'yellow' : 'gray' }),
      span(cell(` ${s.services.map((x) => x.replace(/\.[^.]+$/, '')).join(' → ')}`, servicesWidth), { color: 'gray' }),
    ];
    lines.push(t.traceId === (selected ?? traces[0]!.traceId) ? restyle(row, { inverse: true }) : row);
  }
  return lines;
}

function barOf(startUs: number, durUs: number, t0: number, total: number, width: number): string {
  if (width <= 0) return '';
  const from = Math.min(width - 1, Math.floor(((startUs - t0) / total) * width));
  const len = Math.max(1, Math.round((durUs / total) * width));
  return ' '.repeat(from) + '█'.repeat(Math.min(len, width - from)) + ' '.repeat(Math.max(0, width - from - len));
}

/** the waterfall's lines (all of them; the view scrolls) */
export function waterfallLines(t: StoredTrace, width: number): Line[] {
  const s = summarize(t);
  const rows = waterfall(t);
  const t0 = s.startUs;
  const total = Math.max(1, s.durationUs);
  const label = Math.max(24, Math.min(60, Math.floor(width * 0.45)));
  const timing = 9;
  const barWidth = Math.max(0, width - label - timing - 10);
  const out: Line[] = [
    line(`trace ${t.traceId}  ${s.spans} spans  ${duration(s.durationUs / 1000)}  ${s.errors} errors  ${s.retries} retries  request ${s.requestId}`, { bold: true }),
    line(s.complete ? `services: ${s.services.join(' → ')}` : `⚠ no root span: an app did not forward traceparent/b3 (see README "Tracing"); services: ${s.services.join(' → ')}`, { color: s.complete ? 'gray' : 'yellow' }),
    ...t.warnings.map((w) => line(`⚠ ${w}`, { color: 'yellow' })),
    line(col('SPAN', label) + col('DURATION', timing, 'right') + col(' CODE', 8) + cell(` ${'0'.padEnd(Math.max(0, barWidth - duration(total / 1000).length))}${duration(total / 1000)}`, barWidth + 2), { color: 'gray' }),
  ];
  for (const { span: sp, depth } of rows) {
    out.push(spanRow(sp, depth, t0, total, label, timing, barWidth));
    for (const ev of sp.events) {
      const isAttempt = ev.name.startsWith('attempt ');
      // a single attempt that went well says nothing the span does not
      if (isAttempt && sp.attempts <= 1 && !ev.attributes['fault'] && !ev.attributes['meshbox.failure'] && Number(ev.attributes['http.status_code']) < 500) continue;
      const status = Number(ev.attributes['http.status_code'] ?? 0);
      const failure = ev.attributes['meshbox.failure'];
      const fault = ev.attributes['fault'];
      const text = isAttempt
        ? `${'  '.repeat(depth + 1)}↳ ${ev.name} → ${ev.attributes['meshbox.endpoint']}: ${status || failure || '-'}${fault ? ` (fault: ${fault})` : ''}`
        : `${'  '.repeat(depth + 1)}✗ ${ev.name}`;
      const dur = Number(ev.attributes['meshbox.duration_ms'] ?? 0);
      out.push([
        span(col(text, label), { color: isAttempt ? (status >= 200 && status < 500 ? 'gray' : 'red') : 'magenta' }),
        span(col(isAttempt ? duration(dur) : '', timing, 'right'), { color: 'gray' }),
        span(col('', 8)),
        span(`  ${isAttempt ? barOf(ev.timeUs, dur * 1000, t0, total, barWidth).replace(/█/g, '▒') : barOf(ev.timeUs, 1, t0, total, barWidth).replace(/█/g, '│')}`, { color: isAttempt ? 'gray' : 'magenta' }),
      ]);
    }
  }
  return out;
}

function spanRow(sp: Span, depth: number, t0: number, total: number, label: number, timing: number, barWidth: number): Line {
  const status = Number(sp.tags['http.status_code'] ?? 0);
  const flags = sp.tags['response_flags'] && sp.tags['response_flags'] !== '-' ? ` ${sp.tags['response_flags']}` : '';
  const name = `${'  '.repeat(depth)}${sp.kind === 'server' ? '▸' : '◂'} ${sp.service} ${sp.kind} ${sp.name}`;
  return [
    span(col(name, label), { color: sp.error ? 'red' : undefined }),
    span(col(duration(sp.durationUs / 1000), timing, 'right')),
    span(col(` ${status || '-'}${flags}`, 8), { color: statusColor(status) }),
    span(`  ${barOf(sp.startUs, sp.durationUs, t0, total, barWidth)}`, { color: sp.error ? 'red' : sp.kind === 'server' ? 'green' : 'cyan' }),
  ];
}

export function tracesLines(props: TracesViewProps): Line[] {
  if (!props.open) return traceListLines(props);
  const all = waterfallLines(props.open, props.width);
  const head = all.slice(0, 1);
  const rest = all.slice(1);
  const body = Math.max(1, props.height - 1);
  const scroll = Math.max(0, Math.min(props.scroll, Math.max(0, rest.length - body)));
  return [...head, ...rest.slice(scroll, scroll + body)];
}

export function TracesView(props: TracesViewProps) {
  return <Block lines={tracesLines(props)} width={props.width} height={props.height} />;
}

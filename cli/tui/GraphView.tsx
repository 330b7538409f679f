/**
 * The mesh as text, like Kiali's versioned-app graph: each caller, the services it calls, the
 * edge's rate, success and p99, whether its recent requests went over mutual TLS (Kiali's lock:
 * `mTLS` when all did, `mTLS 60%` when some did, `plaintext` when none did), and how the edge's
 * traffic splits over the callee's versions with each version's error rate:
 *
 *   caller-service-v1 ─▶ callme-service   98/s  ok 100%  p99 12ms   mTLS   v1 20% / v2 80%
 *                          ├─ v1 ████░░░░░░░░░░░░░░░░  20.1%    20/s  err 0.0%
 *                          └─ v2 ████████████████░░░░  79.9%    78/s  err 0.0%
 */
import { Block } from './Block.js';
import { bar, cell, duration, percent, rps, wholePercents } from './format.js';
import { line, span, type Line } from './lines.js';
import { successColor } from './theme.js';
import type { EdgeRow, ViewSnapshot } from './view-store.js';

export interface GraphViewProps {
  snapshot: ViewSnapshot;
  width: number;
  height: number;
}

/** `v1 20% / v2 80%` (whole percentages that add up to 100) */
export function splitSummary(edge: EdgeRow): string {
  const shares = wholePercents(edge.split.map((s) => s.share));
  return edge.split.map((s, i) => `${s.version} ${shares[i]}%`).join(' / ');
}

/** the edge's mTLS marker: `mTLS` (every request of the window), `mTLS 60%` (some), `plaintext` (none) */
export function mtlsMarker(edge: Pick<EdgeRow, 'mtls'>): { text: string; color: 'green' | 'yellow' | 'gray' } | undefined {
  if (edge.mtls === undefined) return undefined;
  if (edge.mtls >= 100) return { text: 'mTLS', color: 'green' };
  if (edge.mtls <= 0) return { text: 'plaintext', color: 'gray' };
  return { text: `mTLS ${Math.min(99, Math.max(1, Math.round(edge.mtls)))}%`, color: 'yellow' };
}

export function graphLines({ snapshot, width, height }: GraphViewProps): Line[] {
  const edges = snapshot.edges;
  if (edges.length === 0) return [line('no traffic yet: press l to send load through the ingress gateway, or curl it', { color: 'gray' })];
  const srcWidth = Math.min(28, Math.max(...edges.map((e) => e.source.length)) + 1);
  const dstWidth = Math.min(26, Math.max(...edges.map((e) => e.destination.length)) + 1);
  const barWidth = width >= 110 ? 20 : width >= 80 ? 10 : 0;
  const lines: Line[] = [];
  let previousSource = '';
  for (const e of edges) {
    const dim = e.rates.rps === 0;
    const source = e.source === previousSource ? '' : e.source;
    previousSource = e.source;
    lines.push([
      span(cell(source, srcWidth), { bold: true, dim }),
      span('─▶ ', { color: 'gray' }),
      span(cell(e.destination, dstWidth), { bold: true, dim }),
      span(cell(`${rps(e.rates.rps)}/s`, 9, 'right'), { dim }),
      span(cell(`ok ${percent(e.rates.success)}`, 11, 'right'), { color: successColor(e.rates.success), dim }),
      span(cell(`p99 ${duration(e.rates.p99)}`, 11, 'right'), { dim }),
      span(cell(mtlsMarker(e)?.text ?? '', 12, 'right'), { color: mtlsMarker(e)?.color ?? 'gray', dim }),
      span(`   ${splitSummary(e)}`, { color: 'cyan', dim }),
    ]);
    e.split.forEach((s, i) => {
      const last = i === e.split.length - 1;
      const errColor = s.errorRate === undefined ? 'gray' : s.errorRate > 1 ? 'red' : 'green';
      lines.push([
        span(' '.repeat(srcWidth + 3)),
        span(last ? '└─ ' : '├─ ', { color: 'gray' }),
        span(cell(s.version, 6), { dim }),
        ...(barWidth ? [span(bar(s.share, barWidth), { color: 'cyan', dim })] : []),
        span(cell(`${s.share.toFixed(1)}%`, 8, 'right'), { dim }),
        span(cell(`${rps(s.rps)}/s`, 9, 'right'), { dim }),
        span(cell(`err ${percent(s.errorRate)}`, 11, 'right'), { color: errColor, dim }),
      ]);
    });
  }
  if (lines.length > height) return [...lines.slice(0, height - 1), line(`… ${lines.length - height + 1} more lines (2 shows the whole graph)`, { color: 'gray' })];
  return lines;
}

export function GraphView(props: GraphViewProps) {
  return <Block lines={graphLines(props)} width={props.width} height={props.height} />;
}

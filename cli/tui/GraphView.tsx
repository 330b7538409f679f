/**
 * The mesh as text, like Kiali's versioned-app graph: each caller, the services it calls, the
 * edge's rate, success and p99, and how the edge's traffic splits over the callee's versions with
 * each version's error rate:
 *
 *   caller-service-v1 ─▶ callme-service   98.0/s  ok 100%  p99 12ms   v1 20% / v2 80%
 *                          ├─ v1 ████░░░░░░░░░░░░░░░░  20.1%  19.7/s  err 0.0%
 *                          └─ v2 ████████████████░░░░  79.9%  78.3/s  err 0.0%
 */
import { Box, Text } from 'ink';
import type { ReactElement } from 'react';
import { bar, cell, duration, percent, rps, wholePercents } from './format.js';
import { successColor } from './theme.js';
import { useTheme } from './use-theme.js';
import type { EdgeRow, ViewSnapshot } from './view-store.js';

export interface GraphViewProps {
  snapshot: ViewSnapshot;
  width: number;
  height: number;
}

/** `v1 20% / v2 80%` */
export function splitSummary(edge: EdgeRow): string {
  const shares = wholePercents(edge.split.map((s) => s.share));
  return edge.split.map((s, i) => `${s.version} ${shares[i]}%`).join(' / ');
}

export function GraphView({ snapshot, width, height }: GraphViewProps) {
  const t = useTheme();
  const edges = snapshot.edges;
  if (edges.length === 0) {
    return (
      <Box flexDirection="column" width={width} height={height}>
        <Text color={t.c('gray')}>no traffic yet: press l to send load through the ingress gateway, or curl it</Text>
      </Box>
    );
  }
  const srcWidth = Math.min(28, Math.max(...edges.map((e) => e.source.length)) + 1);
  const dstWidth = Math.min(26, Math.max(...edges.map((e) => e.destination.length)) + 1);
  const barWidth = width >= 110 ? 20 : width >= 80 ? 10 : 0;
  const lines: ReactElement[] = [];
  let previousSource = '';
  for (const e of edges) {
    const idle = e.rates.rps === 0;
    const source = e.source === previousSource ? '' : e.source;
    previousSource = e.source;
    lines.push(
      <Text key={`${e.source}>${e.destination}`} wrap="truncate-end" dimColor={idle}>
        <Text bold>{cell(source, srcWidth)}</Text>
        <Text color={t.c('gray')}>─▶ </Text>
        <Text bold>{cell(e.destination, dstWidth)}</Text>
        <Text>{cell(`${rps(e.rates.rps)}/s`, 9, 'right')}</Text>
        <Text color={t.c(successColor(e.rates.success))}>{cell(`ok ${percent(e.rates.success)}`, 11, 'right')}</Text>
        <Text>{cell(`p99 ${duration(e.rates.p99)}`, 11, 'right')}</Text>
        <Text color={t.c('cyan')}>{`   ${splitSummary(e)}`}</Text>
      </Text>,
    );
    e.split.forEach((s, i) => {
      const last = i === e.split.length - 1;
      lines.push(
        <Text key={`${e.source}>${e.destination}>${s.version}`} wrap="truncate-end" dimColor={idle}>
          <Text>{' '.repeat(srcWidth + 3)}</Text>
          <Text color={t.c('gray')}>{last ? '└─ ' : '├─ '}</Text>
          <Text>{cell(s.version, 6)}</Text>
          {barWidth ? <Text color={t.c('cyan')}>{bar(s.share, barWidth)}</Text> : null}
          <Text>{cell(`${s.share.toFixed(1)}%`, 8, 'right')}</Text>
          <Text>{cell(`${rps(s.rps)}/s`, 9, 'right')}</Text>
          <Text color={t.c(s.errorRate === undefined ? 'gray' : s.errorRate > 1 ? 'red' : 'green')}>{cell(`err ${percent(s.errorRate)}`, 11, 'right')}</Text>
        </Text>,
      );
    });
  }
  const shown = lines.length > height ? [...lines.slice(0, height - 1), <Text key="more" color={t.c('gray')}>… {lines.length - height + 1} more lines</Text>] : lines;
  return (
    <Box flexDirection="column" width={width} height={height}>
      {shown}
    </Box>
  );
}

/**
 * Faults: every active fault, from rule files (kind Fault) and added at runtime (from here, the
 * admin API, `meshbox fault add` or a scenario), with what it does, its origin, time to live and
 * how often it fired over the last seconds.
 */
import { Box, Text } from 'ink';
import type { FaultRecord } from '../../sandbox/faults/fault-spec.js';
import { cell, clockSeconds, rps, shortPath } from './format.js';
import { faultEffect } from './ServicesView.js';
import { useTheme } from './use-theme.js';
import type { ViewSnapshot } from './view-store.js';

export interface FaultsViewProps {
  snapshot: ViewSnapshot;
  selected: string | undefined;
  width: number;
  height: number;
}

function target(f: FaultRecord): string {
  const t = f.spec.target;
  return `${t.service}${t.subset ? `/${t.subset}` : ''}${t.source ? ` from ${t.source}` : ''}`;
}

export function FaultsView({ snapshot, selected, width, height }: FaultsViewProps) {
  const t = useTheme();
  const { available, list, firedRps } = snapshot.faults;
  if (!available) {
    return (
      <Box width={width} height={height}>
        <Text color={t.c('yellow')}>runtime faults are not available in this sandbox</Text>
      </Box>
    );
  }
  const nameW = Math.min(34, Math.max(12, ...list.map((f) => f.name.length + 2)));
  const targetW = 24;
  const originW = 10;
  const firedW = 10;
  const ttlW = 10;
  const whatW = Math.max(10, width - nameW - targetW - originW - firedW - ttlW);
  const body = Math.max(1, height - 2);
  const index = Math.max(0, list.findIndex((f) => f.name === selected));
  const start = Math.max(0, Math.min(index - Math.floor(body / 2), list.length - body));
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text color={t.c('gray')} wrap="truncate-end">
        {cell('NAME', nameW)}
        {cell('TARGET', targetW)}
        {cell('WHAT', whatW)}
        {cell('ORIGIN', originW)}
        {cell('FIRED', firedW)}
        {cell('UNTIL', ttlW)}
      </Text>
      {list.length === 0 ? (
        <Text color={t.c('gray')}>no fault is active: select a service or version (1) and press d (delay), a (abort) or n (network)</Text>
      ) : (
        list.slice(start, start + body).map((f) => (
          <Text key={f.name} inverse={f.name === selected} wrap="truncate-end">
            <Text color={t.c('magenta')}>{cell(f.name, nameW)}</Text>
            <Text>{cell(target(f), targetW)}</Text>
            <Text>{cell(faultEffect(f), whatW)}</Text>
            <Text color={t.c('gray')}>{cell(f.origin === 'file' ? (f.source ? shortPath(f.source) : 'file') : 'runtime', originW)}</Text>
            <Text>{cell(firedRps[f.name] ? `${rps(firedRps[f.name])}/s` : '-', firedW)}</Text>
            <Text color={t.c('gray')}>{cell(f.expiresAt ? clockSeconds(f.expiresAt) : '-', ttlW)}</Text>
          </Text>
        ))
      )}
      {list.some((f) => f.origin === 'file') ? <Text color={t.c('gray')}>faults from rule files are removed by editing the file</Text> : null}
    </Box>
  );
}

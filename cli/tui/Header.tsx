/**
 * Two lines at the top: the sandbox (state, runtime, seed), active faults and the load generator;
 * then where to reach it (ingress, admin) and the rules snapshot with the last reload's result.
 */
import { Box, Text } from 'ink';
import { clockSeconds, rps, truncate } from './format.js';
import { useTheme } from './use-theme.js';
import type { ViewSnapshot } from './view-store.js';

export interface HeaderProps {
  snapshot: ViewSnapshot;
  width: number;
  /** one line only (small terminals) */
  compact?: boolean;
}

function phase(s: ViewSnapshot['sandbox']): { symbol: string; text: string; color: 'green' | 'yellow' | 'red' | 'gray' } {
  const counts = `${s.healthy}/${s.instances}`;
  switch (s.phase) {
    case 'starting':
      return { symbol: '◌', text: s.instances ? `starting ${counts} healthy` : 'starting', color: 'yellow' };
    case 'running':
      if (s.instances > 0 && s.healthy === s.instances) return { symbol: '●', text: `ready ${counts}`, color: 'green' };
      return s.wasReady ? { symbol: '●', text: `degraded ${counts} healthy`, color: 'red' } : { symbol: '◌', text: `starting ${counts} healthy`, color: 'yellow' };
    case 'stopping':
      return { symbol: '◌', text: 'stopping', color: 'yellow' };
    case 'stopped':
      return { symbol: '○', text: 'stopped', color: 'gray' };
    case 'failed':
      return { symbol: '✗', text: `failed${s.message ? `: ${s.message}` : ''}`, color: 'red' };
  }
}

export function Header({ snapshot, width, compact }: HeaderProps) {
  const t = useTheme();
  const s = snapshot.sandbox;
  const p = phase(s);
  const name = s.id || s.name || 'meshbox';
  const reload = snapshot.config.lastReload;
  const faults = snapshot.faults.list.length;
  const load = snapshot.load;
  const reloadText = reload
    ? reload.ok
      ? `✓ loaded ${clockSeconds(reload.time)}${reload.warnings ? ` (${reload.warnings} warning${reload.warnings === 1 ? '' : 's'})` : ''}`
      : `✗ rejected ${clockSeconds(reload.time)}, ${reload.errors} error${reload.errors === 1 ? '' : 's'} (4 shows them)`
    : '-';
  const faultsAndLoad = (
    <>
      <Text color={t.c('gray')}>  faults </Text>
      <Text color={faults ? t.c('magenta') : undefined} bold={faults > 0}>
        {faults}
      </Text>
      <Text color={t.c('gray')}>  load </Text>
      {load?.running ? (
        <Text color={t.c('cyan')}>
          {rps(load.achievedRps)}/{rps(load.rate)} req/s
        </Text>
      ) : (
        <Text>off</Text>
      )}
    </>
  );
  const line1 = (
    <Text wrap="truncate-end">
      <Text bold color={t.c('cyan')}>
        meshbox
      </Text>
      <Text> {truncate(name, 28)}  </Text>
      <Text color={t.c(p.color)}>
        {p.symbol} {p.text}
      </Text>
      <Text color={t.c('gray')}>  runtime </Text>
      <Text>{s.runtime ?? '-'}</Text>
      <Text color={t.c('gray')}>  seed </Text>
      <Text>{s.seed}</Text>
      {faultsAndLoad}
    </Text>
  );
  if (compact) return <Box width={width}>{line1}</Box>;
  return (
    <Box flexDirection="column" width={width}>
      {line1}
      <Text wrap="truncate-end">
        <Text color={t.c('gray')}>ingress </Text>
        <Text>{s.ingressUrl || '-'}</Text>
        <Text color={t.c('gray')}>  admin </Text>
        <Text>{s.adminUrl || '-'}</Text>
        <Text color={t.c('gray')}>  rules </Text>
        <Text>v{snapshot.config.snapshotVersion} </Text>
        <Text color={reload ? t.c(reload.ok ? 'green' : 'red') : undefined}>{reloadText}</Text>
      </Text>
    </Box>
  );
}

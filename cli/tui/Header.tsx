/**
 * Two lines at the top: the sandbox's state, active faults, the load generator, runtime and seed;
 * then the rules snapshot with the last reload's result, and where to reach the sandbox (ingress,
 * admin).
 */
import { Block } from './Block.js';
import { clockSeconds, rps, truncate } from './format.js';
import { span, type Line } from './lines.js';
import type { ColorName } from './theme.js';
import type { ViewSnapshot } from './view-store.js';

function phase(s: ViewSnapshot['sandbox']): { symbol: string; text: string; color: ColorName } {
  const counts = `${s.healthy}/${s.instances}`;
  switch (s.phase) {
    case 'starting':
      return { symbol: '◌', text: `starting${s.instances ? ` ${counts} healthy` : ''}${s.message ? `: ${s.message}` : ''}`, color: 'yellow' };
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

export function headerLines(snapshot: ViewSnapshot, compact: boolean): Line[] {
  const s = snapshot.sandbox;
  const p = phase(s);
  const gray = { color: 'gray' } as const;
  const faults = snapshot.faults.list.length;
  const load = snapshot.load;
  // most important first: a narrow terminal cuts the end of the line
  const first: Line = [
    span('meshbox', { bold: true, color: 'cyan' }),
    span(` ${truncate(s.id || s.name || 'meshbox', 28)}  `),
    span(`${p.symbol} ${p.text}`, { color: p.color }),
    span('  faults ', gray),
    span(String(faults), faults ? { color: 'magenta', bold: true } : {}),
    span('  load ', gray),
    load?.running ? span(`${rps(load.achievedRps)}/${rps(load.rate)} req/s`, { color: 'cyan' }) : span('off'),
    span('  runtime ', gray),
    span(s.runtime ?? '-'),
    span('  seed ', gray),
    span(String(s.seed)),
  ];
  if (compact) return [first];
  const c = snapshot.config;
  const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
  const reloadSpan =
    c.errors > 0
      ? span(`✗ rejected${c.lastRejected ? ` ${clockSeconds(c.lastRejected)}` : ''}, ${plural(c.errors, 'error')} (4 shows them)`, { color: 'red' })
      : c.lastApplied
        ? span(`✓ loaded ${clockSeconds(c.lastApplied.time)}${c.warnings ? ` (${plural(c.warnings, 'warning')})` : ''}`, { color: c.warnings ? 'yellow' : 'green' })
        : span('-');
  return [
    first,
    [span('rules ', gray), span(`v${snapshot.config.rulesVersion} `), reloadSpan, span('  ingress ', gray), span(s.ingressUrl || '-'), span('  admin ', gray), span(s.adminUrl || '-'), ...(s.toxiproxyUrl ? [span('  toxiproxy ', gray), span(s.toxiproxyUrl)] : [])],
  ];
}

export interface HeaderProps {
  snapshot: ViewSnapshot;
  width: number;
  /** one line only (small terminals) */
  compact?: boolean;
}

export function Header({ snapshot, width, compact = false }: HeaderProps) {
  return <Block lines={headerLines(snapshot, compact)} width={width} height={compact ? 1 : 2} />;
}

/**
 * Faults: every active fault, from rule files (kind Fault) and added at runtime (from here, the
 * admin API, `meshbox fault add` or a scenario), with what it does, its origin, time to live and
 * how often it fired over the last seconds.
 */
import type { FaultRecord } from '../../sandbox/faults/fault-spec.js';
import { Block } from './Block.js';
import { cell, clockSeconds, col, rps, shortPath } from './format.js';
import { line, restyle, span, type Line } from './lines.js';
import { faultEffect } from './ServicesView.js';
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

export function faultsLines({ snapshot, selected, width, height }: FaultsViewProps): Line[] {
  const { available, list, firedRps } = snapshot.faults;
  if (!available) return [line('runtime faults are not available in this sandbox', { color: 'yellow' })];
  const nameW = Math.min(34, Math.max(12, ...list.map((f) => f.name.length + 2)));
  const targetW = 24;
  const originW = 10;
  const firedW = 10;
  const untilW = 10;
  const whatW = Math.max(10, width - nameW - targetW - originW - firedW - untilW);
  const body = Math.max(1, height - 2);
  const index = Math.max(0, list.findIndex((f) => f.name === selected));
  const start = Math.max(0, Math.min(index - Math.floor(body / 2), list.length - body));
  const lines: Line[] = [line(cell('NAME', nameW) + cell('TARGET', targetW) + cell('WHAT', whatW) + cell('ORIGIN', originW) + cell('FIRED', firedW) + cell('UNTIL', untilW), { color: 'gray' })];
  if (list.length === 0) lines.push(line('no fault is active: select a service or version (1) and press d (delay), a (abort) or n (network)', { color: 'gray' }));
  for (const f of list.slice(start, start + body)) {
    const row: Line = [
      span(col(f.name, nameW), { color: 'magenta' }),
      span(col(target(f), targetW)),
      span(col(faultEffect(f), whatW)),
      span(col(f.origin === 'file' ? (f.source ? shortPath(f.source) : 'file') : 'runtime', originW), { color: 'gray' }),
      span(col(firedRps[f.name] ? `${rps(firedRps[f.name])}/s` : '-', firedW)),
      span(cell(f.expiresAt ? clockSeconds(f.expiresAt) : '-', untilW), { color: 'gray' }),
    ];
    lines.push(f.name === selected ? restyle(row, { inverse: true }) : row);
  }
  if (list.some((f) => f.origin === 'file')) lines.push(line('faults from rule files are removed by editing the file', { color: 'gray' }));
  return lines;
}

export function FaultsView(props: FaultsViewProps) {
  return <Block lines={faultsLines(props)} width={props.width} height={props.height} />;
}

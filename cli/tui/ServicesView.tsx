/**
 * Services, like `linkerd viz stat` and k9s's pod list: one row per service, per version and per
 * instance, with health, RPS, success rate and p50/p99 over the last seconds, and what is wrong
 * (faults, ejections, circuit breaker overflows, restarts).
 */
import { describeFault } from '../../sandbox/faults/describe-fault.js';
import type { FaultRecord } from '../../sandbox/faults/fault-spec.js';
import { Block } from './Block.js';
import { cell, col, duration, percent, rps } from './format.js';
import { graphLines } from './GraphView.js';
import { line, restyle, span, type Line } from './lines.js';
import { successColor, type ColorName } from './theme.js';
import type { InstanceRow, ServiceRow, VersionRow, ViewSnapshot } from './view-store.js';

export type ServiceListRow =
  | { key: string; kind: 'service'; service: string; row: ServiceRow }
  | { key: string; kind: 'version'; service: string; version: string; row: VersionRow }
  | { key: string; kind: 'instance'; service: string; version: string; row: InstanceRow };

/** the table's rows in display order, each with a stable key for the selection */
export function serviceListRows(services: readonly ServiceRow[]): ServiceListRow[] {
  const rows: ServiceListRow[] = [];
  for (const s of services) {
    rows.push({ key: `s:${s.service}`, kind: 'service', service: s.service, row: s });
    for (const v of s.versions) {
      rows.push({ key: `v:${s.service}/${v.version}`, kind: 'version', service: s.service, version: v.version, row: v });
      for (const i of v.instances) rows.push({ key: `i:${i.id}`, kind: 'instance', service: s.service, version: v.version, row: i });
    }
  }
  return rows;
}

/** `callme-service/v2` for a version or instance row, `callme-service` for a service row */
export function rowTarget(row: ServiceListRow | undefined): string | undefined {
  if (!row) return undefined;
  return row.kind === 'service' ? row.service : `${row.service}/${row.version}`;
}

/** what a fault does, without its target: `delay 1000ms 50%` */
export function faultEffect(f: FaultRecord): string {
  const text = describeFault(f.spec);
  const i = text.indexOf(': ');
  return i >= 0 ? text.slice(i + 2) : text;
}

function faultsOn(faults: readonly FaultRecord[], service: string, version?: string): string[] {
  return faults.filter((f) => f.spec.target.service === service && f.spec.target.subset === version).map((f) => `fault ${faultEffect(f)}`);
}

interface Columns {
  name: number;
  state: number;
  rps: number;
  success: number;
  p50: number;
  p99: number;
  notes: number;
}

function layout(width: number, longestName: number): Columns {
  const name = Math.max(14, Math.min(36, longestName + 2, Math.floor(width * 0.35)));
  const state = width >= 90 ? 16 : 10;
  const p50 = width >= 90 ? 8 : 0;
  const fixed = name + state + 8 + 9 + p50 + 8 + 2;
  return { name, state, rps: 8, success: 9, p50, p99: 8, notes: Math.max(0, width - fixed) };
}

export interface ServicesViewProps {
  snapshot: ViewSnapshot;
  width: number;
  height: number;
  selected: string | undefined;
}

export function servicesLines({ snapshot, width, height, selected }: ServicesViewProps): Line[] {
  const rows = serviceListRows(snapshot.services);
  const cols = layout(width, Math.max(4, ...rows.map((r) => (r.kind === 'instance' ? r.row.id.length + 4 : r.kind === 'version' ? r.version.length + 2 : r.service.length))));
  const faults = snapshot.faults.list;
  const header =
    cell('NAME', cols.name) +
    cell('STATE', cols.state) +
    cell('RPS', cols.rps, 'right') +
    cell('SUCCESS', cols.success, 'right') +
    (cols.p50 ? cell('P50', cols.p50, 'right') : '') +
    cell('P99', cols.p99, 'right') +
    '  ' +
    cell('NOTES', cols.notes);
  const lines: Line[] = [line(header, { color: 'gray' })];
  if (rows.length === 0) return [...lines, line('◌ waiting for the mesh definition…', { color: 'yellow' })];

  const body = height - 1;
  const index = Math.max(0, rows.findIndex((r) => r.key === selected));
  const start = Math.max(0, Math.min(index - Math.floor(body / 2), rows.length - body));
  for (const r of rows.slice(start, start + body)) {
    let name: string;
    let state: { text: string; color: ColorName | undefined };
    let notes: string[];
    if (r.kind === 'service') {
      const instances = r.row.versions.flatMap((v) => v.instances);
      const up = instances.filter((i) => i.healthy && i.state === 'running').length;
      name = r.service;
      state = { text: `${up}/${instances.length} ready`, color: up === instances.length ? 'green' : 'yellow' };
      notes = faultsOn(faults, r.service);
    } else if (r.kind === 'version') {
      const up = r.row.instances.filter((i) => i.healthy && i.state === 'running').length;
      name = `  ${r.version}`;
      state = { text: `${up}/${r.row.instances.length} ready`, color: up === r.row.instances.length ? 'green' : 'yellow' };
      notes = faultsOn(faults, r.service, r.version);
      const ejected = r.row.instances.filter((i) => i.ejected).length;
      if (ejected) notes.push(`${ejected} ejected`);
      if (r.row.overflowRps > 0) notes.push(`circuit open: UO ${rps(r.row.overflowRps)}/s`);
    } else {
      const i = r.row;
      name = `    ${i.id}`;
      const health = i.state === 'running' ? (i.healthy ? '✓' : '✗') : '';
      const what = i.paused ? 'paused' : i.drained && i.state === 'running' ? 'drained' : i.state;
      state = {
        text: `${what} ${health}${cols.state > 12 && i.pid ? ` ${i.pid}` : ''}`,
        color: i.paused || i.drained ? 'yellow' : i.state === 'running' ? (i.healthy ? 'green' : 'red') : i.state === 'exited' ? 'red' : 'yellow',
      };
      notes = [];
      if (i.ejected) notes.push(`ejected: ${i.ejected}`);
      if (i.restarts) notes.push(`restarts ${i.restarts}`);
    }
    const m = r.row.rates;
    const metrics =
      cell(rps(m.rps), cols.rps, 'right') +
      cell(percent(m.success), cols.success, 'right') +
      (cols.p50 ? cell(duration(m.p50), cols.p50, 'right') : '') +
      cell(duration(m.p99), cols.p99, 'right');
    const row: Line = [
      span(col(name, cols.name), { bold: r.kind === 'service' }),
      span(col(state.text, cols.state), { color: state.color }),
      span(metrics, { color: successColor(m.success) }),
      span('  '),
      span(notes.join('  '), { color: notes.some((n) => n.startsWith('fault ')) ? 'magenta' : 'yellow' }),
    ];
    lines.push(r.key === selected ? restyle(row, { inverse: true }) : row);
  }
  return lines;
}

/** the table, and the mesh graph under it when there is room: one screen for the whole mesh */
export function ServicesView(props: ServicesViewProps) {
  const table = servicesLines(props);
  const graphHeight = props.height - table.length - 1;
  const graph = graphHeight >= 3 && props.snapshot.edges.length > 0 ? [[], ...graphLines({ snapshot: props.snapshot, width: props.width, height: graphHeight })] : [];
  return <Block lines={[...table, ...graph]} width={props.width} height={props.height} />;
}

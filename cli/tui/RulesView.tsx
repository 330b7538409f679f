/**
 * Rules: the rule files and whether they are applied, the resources the data plane serves (kind,
 * name, file:line:col), and the files' current validation findings (errors: the file, or its new
 * version, is not applied; warnings: `istioctl analyze`'s), each with file:line:col, code and
 * hint, as `meshbox validate` prints them.
 */
import path from 'node:path';
import { formatLocation, type Finding } from '../../sandbox/config/findings.js';
import { Block } from './Block.js';
import { cell, shortPath, wrap } from './format.js';
import { line } from './lines.js';
import type { ColorName } from './theme.js';
import type { ViewSnapshot } from './view-store.js';

interface TextLine {
  text: string;
  color?: ColorName;
  bold?: boolean;
}

export function rulesLines(snapshot: ViewSnapshot, width: number): TextLine[] {
  const { resources, findings } = snapshot.rules;
  const lines: TextLine[] = [];
  const dir = snapshot.sandbox.rulesDir;
  const files = new Map<string, { resources: number; errors: number; warnings: number }>();
  const fileOf = (f: string): { resources: number; errors: number; warnings: number } => {
    const key = path.resolve(f);
    let entry = files.get(key);
    if (!entry) files.set(key, (entry = { resources: 0, errors: 0, warnings: 0 }));
    return entry;
  };
  for (const r of resources) fileOf(r.file).resources++;
  for (const f of findings) {
    if (!f.location) continue;
    if (f.severity === 'error') fileOf(f.location.file).errors++;
    if (f.severity === 'warning') fileOf(f.location.file).warnings++;
  }
  lines.push({ text: `FILES (${files.size}) in ${dir ? shortPath(dir) : '(no rules folder)'}   serving snapshot v${snapshot.config.snapshotVersion}`, color: 'cyan', bold: true });
  if (files.size === 0) lines.push({ text: '  none: every service gets Istio’s default routing', color: 'gray' });
  const fileWidth = Math.min(60, Math.max(20, ...[...files.keys()].map((f) => shortPath(f).length + 2)));
  const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
  for (const [file, st] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    const what = st.errors
      ? `${plural(st.errors, 'error')}: ${st.resources ? `serving its last good version (${plural(st.resources, 'resource')})` : 'not applied'}`
      : `applied, ${plural(st.resources, 'resource')}${st.warnings ? `, ${plural(st.warnings, 'warning')}` : ''}`;
    lines.push({ text: `  ${st.errors ? '✗' : '✓'} ${cell(shortPath(file), fileWidth)}${what}`, color: st.errors ? 'red' : st.warnings ? 'yellow' : undefined });
  }
  lines.push({ text: '' });
  lines.push({ text: `RESOURCES (${resources.length})`, color: 'cyan', bold: true });
  if (resources.length === 0) lines.push({ text: '  none applied: every service gets Istio’s default routing', color: 'gray' });
  const kindWidth = 17;
  const nameWidth = Math.min(40, Math.max(20, Math.floor(width * 0.3)));
  for (const r of resources) {
    lines.push({ text: `  ${cell(r.kind, kindWidth)}${cell(`${r.namespace}/${r.name}`, nameWidth)}${shortPath(r.file)}:${r.line}:${r.col}` });
  }
  lines.push({ text: '' });
  const errors = findings.filter((f) => f.severity === 'error');
  const warnings = findings.filter((f) => f.severity === 'warning');
  const infos = findings.filter((f) => f.severity === 'info');
  lines.push({ text: `FINDINGS   ${errors.length} error${errors.length === 1 ? '' : 's'}, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}${infos.length ? `, ${infos.length} note${infos.length === 1 ? '' : 's'}` : ''}`, color: 'cyan', bold: true });
  if (findings.length === 0) lines.push({ text: '  ✓ every rule file is valid', color: 'green' });
  for (const f of [...errors, ...warnings, ...infos]) lines.push(...findingLines(f, width));
  return lines;
}

/** a finding as `meshbox validate` prints it, wrapped to the width */
function findingLines(f: Finding, width: number): TextLine[] {
  const color: ColorName = f.severity === 'error' ? 'red' : f.severity === 'warning' ? 'yellow' : 'gray';
  const symbol = f.severity === 'error' ? '✗' : f.severity === 'warning' ? '!' : 'i';
  const where = f.location ? `${shortPath(f.location.file)}:${f.location.line}:${f.location.col}` : formatLocation(undefined);
  const code = f.istioCode ? `${f.code}/${f.istioCode}` : f.code;
  const res = f.resource ? ` [${f.resource.kind} ${f.resource.namespace}/${f.resource.name}]` : '';
  const lines: TextLine[] = wrap(`  ${symbol} ${where}: ${f.severity} ${code}${res}: ${f.message}`, width, 6).map((text) => ({ text, color }));
  if (f.hint) lines.push(...wrap(`      hint: ${f.hint}`, width, 12).map((text) => ({ text, color: 'gray' as const })));
  return lines;
}

export interface RulesViewProps {
  snapshot: ViewSnapshot;
  scroll: number;
  width: number;
  height: number;
}

export function RulesView({ snapshot, scroll, width, height }: RulesViewProps) {
  const lines = rulesLines(snapshot, width);
  const start = Math.max(0, Math.min(scroll, lines.length - height));
  return <Block lines={lines.slice(start, start + height).map((l) => line(l.text, { color: l.color, bold: l.bold }))} width={width} height={height} />;
}

/**
 * Rules: the resources the data plane serves (kind, name, file:line:col), and the rule files'
 * current validation findings (errors: the file is not applied; warnings: `istioctl analyze`'s),
 * each with file:line:col, code and hint, as `meshbox validate` prints them.
 */
import { formatLocation, type Finding } from '../../sandbox/config/findings.js';
import { Block } from './Block.js';
import { cell, shortPath } from './format.js';
import { line } from './lines.js';
import type { ColorName } from './theme.js';
import type { ViewSnapshot } from './view-store.js';

interface Line {
  text: string;
  color?: ColorName;
  bold?: boolean;
}

export function rulesLines(snapshot: ViewSnapshot, width: number): Line[] {
  const { resources, findings } = snapshot.rules;
  const lines: Line[] = [];
  const dir = snapshot.sandbox.rulesDir;
  lines.push({ text: `RESOURCES (${resources.length}) from ${dir ? shortPath(dir) : '(no rules folder)'}   serving snapshot v${snapshot.config.snapshotVersion}`, color: 'cyan', bold: true });
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
  for (const f of [...errors, ...warnings, ...infos]) lines.push(...findingLines(f));
  return lines;
}

function findingLines(f: Finding): Line[] {
  const color: ColorName = f.severity === 'error' ? 'red' : f.severity === 'warning' ? 'yellow' : 'gray';
  const symbol = f.severity === 'error' ? '✗' : f.severity === 'warning' ? '!' : 'i';
  const where = f.location ? `${shortPath(f.location.file)}:${f.location.line}:${f.location.col}` : formatLocation(undefined);
  const code = f.istioCode ? `${f.code}/${f.istioCode}` : f.code;
  const res = f.resource ? ` [${f.resource.kind} ${f.resource.namespace}/${f.resource.name}]` : '';
  const lines: Line[] = [{ text: `  ${symbol} ${where}: ${f.severity} ${code}${res}: ${f.message}`, color }];
  if (f.hint) lines.push({ text: `      hint: ${f.hint}`, color: 'gray' });
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

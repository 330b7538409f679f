/**
 * `?`: every key, grouped, with what it does (from the keymap table), and how to read the views.
 */
import { Block } from './Block.js';
import { cell, wrap } from './format.js';
import { KEYMAP, keyLabel, type KeyBinding } from './keymap.js';
import { line, type Line } from './lines.js';

const GROUPS: Array<[KeyBinding['group'], string]> = [
  ['navigate', 'NAVIGATE'],
  ['traffic', 'TRAFFIC AND LOGS'],
  ['faults', 'FAULTS'],
  ['workloads', 'WORKLOADS (select an instance in Services)'],
  ['load', 'LOAD'],
  ['general', 'GENERAL'],
];

export function helpLines(width = 100): Array<{ text: string; heading?: boolean }> {
  const lines: Array<{ text: string; heading?: boolean }> = [];
  const add = (text: string, indent: number): void => {
    for (const l of wrap(text, Math.max(20, width), indent)) lines.push({ text: l });
  };
  for (const [group, title] of GROUPS) {
    lines.push({ text: title, heading: true });
    for (const b of KEYMAP.filter((k) => k.group === group)) add(`  ${cell(b.keys.map(keyLabel).join(' '), 12)}${b.description}`, 14);
  }
  lines.push({ text: 'READING THE NUMBERS', heading: true });
  add('  service and version rows and graph edges: what callers see (reporter=source), after retries and timeouts', 4);
  add('  instance rows: what the instance’s own sidecar answered (reporter=destination); meshbox faults act there', 4);
  add('  rates, success and p50/p99 are over the last 5 seconds; success = status below 500', 4);
  return lines;
}

export function HelpOverlay({ width, height, scroll }: { width: number; height: number; scroll: number }) {
  const lines = helpLines(width);
  const body = Math.max(1, height - 1);
  const start = Math.max(0, Math.min(scroll, lines.length - body));
  const shown: Line[] = [
    line(`KEYS  esc or ? closes${lines.length > body ? '  ↑↓ scroll' : ''}`, { color: 'gray' }),
    ...lines.slice(start, start + body).map((l) => line(l.text, l.heading ? { bold: true, color: 'cyan' } : {})),
  ];
  return <Block lines={shown} width={width} height={height} />;
}

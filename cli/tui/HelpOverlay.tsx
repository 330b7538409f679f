/**
 * `?`: every key, grouped, with what it does (from the keymap table), and how to read the views.
 */
import { Box, Text } from 'ink';
import { KEYMAP, keyLabel, type KeyBinding } from './keymap.js';
import { cell, truncate } from './format.js';
import { useTheme } from './use-theme.js';

const GROUPS: Array<[KeyBinding['group'], string]> = [
  ['navigate', 'NAVIGATE'],
  ['traffic', 'TRAFFIC AND LOGS'],
  ['faults', 'FAULTS'],
  ['workloads', 'WORKLOADS (select an instance in Services)'],
  ['load', 'LOAD'],
  ['general', 'GENERAL'],
];

export function helpLines(): Array<{ text: string; heading?: boolean }> {
  const lines: Array<{ text: string; heading?: boolean }> = [];
  for (const [group, title] of GROUPS) {
    lines.push({ text: title, heading: true });
    for (const b of KEYMAP.filter((k) => k.group === group)) {
      lines.push({ text: `  ${cell(b.keys.map(keyLabel).join(' '), 12)}${b.description}` });
    }
  }
  lines.push({ text: 'READING THE NUMBERS', heading: true });
  lines.push({ text: '  service and version rows and graph edges: what callers see (reporter=source), after retries and timeouts' });
  lines.push({ text: '  instance rows: what the instance’s own sidecar answered (reporter=destination); faults act there' });
  lines.push({ text: '  rates, success and p50/p99 are over the last 5 seconds; success = status below 500' });
  return lines;
}

export function HelpOverlay({ width, height, scroll }: { width: number; height: number; scroll: number }) {
  const t = useTheme();
  const lines = helpLines();
  const body = Math.max(1, height - 1);
  const start = Math.max(0, Math.min(scroll, lines.length - body));
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text color={t.c('gray')} wrap="truncate-end">
        KEYS{'  '}esc or ? closes{lines.length > body ? '  ↑↓ scroll' : ''}
      </Text>
      {lines.slice(start, start + body).map((l, i) => (
        <Text key={i} bold={l.heading} color={l.heading ? t.c('cyan') : undefined} wrap="truncate-end">
          {truncate(l.text, width)}
        </Text>
      ))}
    </Box>
  );
}

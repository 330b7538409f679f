/**
 * The one-line key hint at the bottom, like k9s's: the bindings of the current view that matter
 * most, `?` for the rest.
 */
import { Text } from 'ink';
import { KEYMAP, keyLabel, type ViewName } from './keymap.js';
import { useTheme } from './use-theme.js';

export function HelpBar({ view, width }: { view: ViewName; width: number }) {
  const t = useTheme();
  const items = KEYMAP.filter((b) => b.bar && (!b.views || b.views.includes(view)));
  const nav = view === 'traffic' ? [['↑↓', 'select']] : view === 'services' || view === 'faults' ? [['↑↓', 'select']] : view === 'graph' ? [] : [['↑↓', 'scroll']];
  const pairs = [...nav, ...items.map((b) => [keyLabel(b.keys[0]!), b.label])];
  let used = 0;
  const shown: string[][] = [];
  for (const p of pairs) {
    const w = p[0]!.length + p[1]!.length + 4;
    if (used + w > width) break;
    shown.push(p);
    used += w;
  }
  return (
    <Text wrap="truncate-end">
      {shown.map(([k, label]) => (
        <Text key={`${k}${label}`}>
          <Text color={t.c('cyan')} bold>
            {`<${k}>`}
          </Text>
          <Text color={t.c('gray')}>{` ${label} `}</Text>
        </Text>
      ))}
    </Text>
  );
}

import { Box, Text } from 'ink';
import { VIEW_TITLES, VIEWS, type ViewName } from './keymap.js';
import { useTheme } from './use-theme.js';

export interface TabBarProps {
  view: ViewName;
  width: number;
  /** counts shown next to some tabs, e.g. faults */
  badges?: Partial<Record<ViewName, string>>;
}

/** ` 1 Services  2 Graph  3 Traffic ...` with the current view highlighted */
export function TabBar({ view, width, badges = {} }: TabBarProps) {
  const t = useTheme();
  const short = width < 70;
  return (
    <Box width={width}>
      <Text wrap="truncate-end">
        {VIEWS.map((v, i) => {
          const title = short ? VIEW_TITLES[v].slice(0, 4) : VIEW_TITLES[v];
          const badge = badges[v] ? ` ${badges[v]}` : '';
          return (
            <Text key={v}>
              <Text inverse={v === view} bold={v === view} color={v === view ? t.c('cyan') : undefined}>
                {` ${i + 1} ${title}${badge} `}
              </Text>
              <Text> </Text>
            </Text>
          );
        })}
        <Text color={t.c('gray')}>? help</Text>
      </Text>
    </Box>
  );
}

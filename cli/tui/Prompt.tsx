/**
 * The form of an action key, at the bottom, k9s-style: `Delay on ◂ callme-service/v2 ▸ of 50%
 * by 1000ms`. ←/→ change a choice, digits and letters edit, tab moves, ⏎ applies, esc cancels.
 * Input is handled by App (one keyboard owner); this only draws. Two lines, or one when compact.
 */
import { Box, Text } from 'ink';
import type { FormState } from './forms.js';
import { useTheme } from './use-theme.js';

export function Prompt({ form, width, compact }: { form: FormState; width: number; compact?: boolean }) {
  const t = useTheme();
  const fields = (
    <Text wrap="truncate-end">
      <Text bold color={t.c('magenta')}>
        {form.title}
      </Text>
      {form.fields.map((f, i) => {
        const active = i === form.active;
        const value = f.kind === 'choice' ? `◂ ${f.value} ▸` : `${f.value}${active ? '▏' : ''}`;
        return (
          <Text key={f.name}>
            <Text color={t.c('gray')}> {f.label} </Text>
            <Text inverse={active} bold={active}>
              {value || ' '}
            </Text>
            {f.unit ? <Text color={t.c('gray')}>{f.unit}</Text> : null}
          </Text>
        );
      })}
      {compact && form.error ? <Text color={t.c('red')}> ✗ {form.error}</Text> : null}
    </Text>
  );
  if (compact) return <Box width={width}>{fields}</Box>;
  return (
    <Box flexDirection="column" width={width}>
      {fields}
      <Text wrap="truncate-end">
        {form.error ? <Text color={t.c('red')}>✗ {form.error} </Text> : null}
        <Text color={t.c('gray')}>⏎ apply  esc cancel  tab/↓ next field  ←/→ choose</Text>
      </Text>
    </Box>
  );
}

/**
 * The form of an action key, at the bottom, k9s-style: `Delay on ◂ callme-service/v2 ▸ of 50%
 * by 1000ms`. ←/→ change a choice, digits and letters edit, tab moves, ⏎ applies, esc cancels.
 * Input is handled by App (one keyboard owner); this only draws. Two lines, or one when compact.
 */
import { Block } from './Block.js';
import type { FormState } from './forms.js';
import { span, type Line } from './lines.js';

export function promptLines(form: FormState, compact: boolean): Line[] {
  const fields: Line = [span(form.title, { bold: true, color: 'magenta' })];
  form.fields.forEach((f, i) => {
    const active = i === form.active;
    const value = f.kind === 'choice' ? `◂ ${f.value} ▸` : `${f.value}${active ? '▏' : ''}`;
    fields.push(span(` ${f.label} `, { color: 'gray' }), span(value || ' ', active ? { inverse: true, bold: true } : {}));
    if (f.unit) fields.push(span(f.unit, { color: 'gray' }));
  });
  const hint = span('⏎ apply  esc cancel  tab/↓ next field  ←/→ choose', { color: 'gray' });
  const error = form.error ? span(`✗ ${form.error} `, { color: 'red' }) : undefined;
  if (compact) return [error ? [...fields, span(' '), error] : fields];
  return [fields, error ? [error, hint] : [hint]];
}

export function Prompt({ form, width, compact = false }: { form: FormState; width: number; compact?: boolean }) {
  return <Block lines={promptLines(form, compact)} width={width} height={compact ? 1 : 2} />;
}

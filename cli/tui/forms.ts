/**
 * The small forms behind the action keys (delay, abort, network fault, load), as data: fields
 * with defaults, and the FaultSpec or load options each form's values make. The Prompt component
 * edits them; nothing here touches the sandbox.
 */
import type { FaultSpec, ToxicType } from '../../sandbox/faults/fault-spec.js';
import type { ServiceRow } from './view-store.js';

export type FormId = 'delay' | 'abort' | 'network' | 'load';

export interface FormField {
  name: string;
  label: string;
  kind: 'number' | 'text' | 'choice';
  value: string;
  choices?: readonly string[];
  /** printed after the value: `%`, `ms` */
  unit?: string;
  /** number fields: the largest value; typing beyond it gives this value (and says so) */
  max?: number;
  /** the value is the default, not typed yet: the first character typed replaces it */
  pristine?: boolean;
}

export interface FormState {
  id: FormId;
  title: string;
  fields: FormField[];
  /** index of the field being edited */
  active: number;
  /** why the last submit was refused */
  error?: string;
}

/** the longest delay a form accepts: 5 minutes (longer is a typo; a scenario file can say more) */
export const MAX_DELAY_MS = 300_000;
/** the highest load rate the load form accepts */
export const MAX_LOAD_RATE = 100_000;

/** Toxiproxy's toxics, with the one attribute the form asks for. */
export const TOXICS: Record<ToxicType, { attribute: string; unit: string; value: number; max: number; help: string }> = {
  latency: { attribute: 'latency', unit: 'ms', value: 200, max: MAX_DELAY_MS, help: 'delay every chunk of data' },
  bandwidth: { attribute: 'rate', unit: 'KB/s', value: 16, max: 10_000_000, help: 'limit the bandwidth' },
  slow_close: { attribute: 'delay', unit: 'ms', value: 1000, max: MAX_DELAY_MS, help: 'delay the TCP close' },
  timeout: { attribute: 'timeout', unit: 'ms', value: 0, max: MAX_DELAY_MS, help: 'stop all data; close after timeout (0 = never)' },
  reset_peer: { attribute: 'timeout', unit: 'ms', value: 0, max: MAX_DELAY_MS, help: 'reset the connection (TCP RST) after timeout' },
  slicer: { attribute: 'average_size', unit: 'B', value: 64, max: 1_048_576, help: 'slice data into small packets' },
  limit_data: { attribute: 'bytes', unit: 'B', value: 1024, max: 1_000_000_000, help: 'close the connection after so many bytes' },
};

/** fault targets the forms offer: every service, then every service/version */
export function faultTargets(services: readonly ServiceRow[]): string[] {
  const out: string[] = [];
  for (const s of services) {
    out.push(s.service);
    for (const v of s.versions) out.push(`${s.service}/${v.version}`);
  }
  return out;
}

function targetField(target: string | undefined, targets: readonly string[]): FormField {
  const choices = target && !targets.includes(target) ? [target, ...targets] : targets;
  return { name: 'target', label: 'on', kind: 'choice', value: target ?? choices[0] ?? '', choices };
}

function percentField(name: string, label: string, value: number): FormField {
  return { name, label, kind: 'number', value: String(value), unit: '%', max: 100, pristine: true };
}

export function delayForm(target: string | undefined, targets: readonly string[]): FormState {
  return {
    id: 'delay',
    title: 'Delay',
    active: 1,
    fields: [targetField(target, targets), percentField('percent', 'of', 50), { name: 'ms', label: 'by', kind: 'number', value: '1000', unit: 'ms', max: MAX_DELAY_MS, pristine: true }],
  };
}

export function abortForm(target: string | undefined, targets: readonly string[]): FormState {
  return {
    id: 'abort',
    title: 'Abort',
    active: 1,
    fields: [targetField(target, targets), percentField('percent', 'of', 50), { name: 'status', label: 'with HTTP', kind: 'number', value: '503', max: 599, pristine: true }],
  };
}

export function networkForm(target: string | undefined, targets: readonly string[]): FormState {
  const type: ToxicType = 'latency';
  return {
    id: 'network',
    title: 'Network',
    active: 1,
    fields: [
      targetField(target, targets),
      { name: 'type', label: 'toxic', kind: 'choice', value: type, choices: Object.keys(TOXICS) },
      { name: 'value', label: TOXICS[type].attribute, kind: 'number', value: String(TOXICS[type].value), unit: TOXICS[type].unit, max: TOXICS[type].max, pristine: true },
      { name: 'stream', label: 'stream', kind: 'choice', value: 'downstream', choices: ['downstream', 'upstream'] },
      percentField('toxicity', 'toxicity', 100),
    ],
  };
}

export function loadForm(rate: number, path: string): FormState {
  return {
    id: 'load',
    title: 'Load',
    active: 0,
    fields: [
      { name: 'rate', label: 'rate', kind: 'number', value: String(rate), unit: 'req/s', max: MAX_LOAD_RATE, pristine: true },
      { name: 'path', label: 'path', kind: 'text', value: path, pristine: true },
    ],
  };
}

/** after a field changed: fields that depend on it (the network form's attribute follows the toxic type) */
export function updateField(form: FormState, index: number, value: string): FormState {
  const fields = form.fields.map((f, i) => (i === index ? { ...f, value } : f));
  if (form.id === 'network' && fields[index]?.name === 'type') {
    const toxic = TOXICS[value as ToxicType];
    const i = fields.findIndex((f) => f.name === 'value');
    if (toxic && i >= 0) fields[i] = { ...fields[i]!, label: toxic.attribute, unit: toxic.unit, value: String(toxic.value), max: toxic.max, pristine: true };
  }
  return { ...form, fields, error: undefined };
}

/**
 * Characters typed into field `index`: they replace a default not edited yet, else they are
 * appended. A number field keeps digits and one dot, and a value above its max becomes the max
 * (the prompt says so).
 */
export function typeInto(form: FormState, index: number, text: string): FormState {
  const field = form.fields[index];
  if (!field || field.kind === 'choice') return form;
  const base = field.pristine ? '' : field.value;
  if (field.kind !== 'number') return setValue(form, index, base + text.replace(/[\r\n\t]/g, ''), undefined);
  let value = base;
  for (const ch of text) {
    if (/[0-9]/.test(ch) || (ch === '.' && !value.includes('.'))) value += ch;
  }
  if (value === base) return form;
  // leading zeros say nothing ("007" is 7); keep "0" and "0.x"
  value = value.replace(/^0+(?=\d)/, '');
  if (field.max !== undefined && Number(value) > field.max) {
    return setValue(form, index, String(field.max), `${field.label} is at most ${field.max}${field.unit ?? ''}`);
  }
  return setValue(form, index, value, undefined);
}

/** Backspace in field `index`: the last character goes (a default too: it becomes an edit) */
export function backspace(form: FormState, index: number): FormState {
  const field = form.fields[index];
  if (!field || field.kind === 'choice') return form;
  return setValue(form, index, field.value.slice(0, -1), undefined);
}

function setValue(form: FormState, index: number, value: string, error: string | undefined): FormState {
  const fields = form.fields.map((f, i) => (i === index ? { ...f, value, pristine: false } : f));
  return { ...form, fields, error };
}

export function values(form: FormState): Record<string, string> {
  return Object.fromEntries(form.fields.map((f) => [f.name, f.value.trim()]));
}

function number(v: Record<string, string>, name: string, label: string, min: number, max: number): number {
  const n = Number(v[name]);
  if (v[name] === '' || !Number.isFinite(n) || n < min || n > max) throw new Error(`${label} must be a number from ${min} to ${max}`);
  return n;
}

function target(v: Record<string, string>): FaultSpec['target'] {
  const [service, subset] = (v['target'] ?? '').split('/');
  if (!service) throw new Error('choose a service (←/→)');
  return subset ? { service, subset } : { service };
}

/** The FaultSpec of a submitted fault form; throws an Error with a message for the prompt. */
export function faultSpec(form: FormState): FaultSpec {
  const v = values(form);
  switch (form.id) {
    case 'delay':
      return { target: target(v), http: { delay: { fixedDelayMs: number(v, 'ms', 'the delay', 1, MAX_DELAY_MS), percent: number(v, 'percent', 'percent', 0, 100) } } };
    case 'abort':
      return { target: target(v), http: { abort: { httpStatus: number(v, 'status', 'the status', 200, 599), percent: number(v, 'percent', 'percent', 0, 100) } } };
    case 'network': {
      const type = v['type'] as ToxicType;
      const toxic = TOXICS[type];
      if (!toxic) throw new Error(`unknown toxic ${type}`);
      return {
        target: target(v),
        toxics: [
          {
            type,
            stream: v['stream'] === 'upstream' ? 'upstream' : 'downstream',
            toxicity: number(v, 'toxicity', 'toxicity', 0, 100) / 100,
            attributes: { [toxic.attribute]: number(v, 'value', toxic.attribute, 0, toxic.max) },
          },
        ],
      };
    }
    case 'load':
      throw new Error('not a fault form');
  }
}

export function loadOptions(form: FormState): { rate: number; path: string } {
  const v = values(form);
  const rate = number(v, 'rate', 'the rate', 1, MAX_LOAD_RATE);
  const path = v['path'] || '/';
  return { rate, path: path.startsWith('/') ? path : `/${path}` };
}

/**
 * Turns ajv errors into findings a user can act on: what is wrong, where (the YAML node of the
 * offending field: the key for an unknown field, the parent object for a missing one), and a
 * hint (did-you-mean, quoting, units, the oneof alternatives).
 */
import type { ErrorObject } from 'ajv';
import type { Finding } from './findings.js';
import { makeFinding } from './codes.js';
import type { FindingCodeName } from './codes.js';
import { closestMatch, listWords } from './did-you-mean.js';
import { checkFormat } from './formats.js';
import type { JsonSchema } from './schemas/json-schema.js';
import type { YamlPath } from './yaml-source.js';
import type { SourceLocation } from './findings.js';

export interface Locator {
  locate(path: YamlPath, opts?: { key?: boolean }): SourceLocation;
}

const GROUP_KEYWORDS = new Set(['oneOf', 'anyOf', 'not', 'propertyNames']);

/** `spec.http[0].route` */
export function formatPath(path: YamlPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : /^[A-Za-z_$][\w$-]*$/.test(seg) ? `.${seg}` : `[${JSON.stringify(seg)}]`;
  }
  return out || '(document)';
}

export function schemaErrorsToFindings(errors: readonly ErrorObject[], root: unknown, locator: Locator): Finding[] {
  const kept = filterErrors(errors);
  const out: Finding[] = [];
  const seen = new Set<string>();
  for (const e of kept) {
    const f = convert(e, root, locator);
    const key = `${f.code}|${f.location?.line}:${f.location?.col}|${f.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(f);
    }
  }
  return out;
}

function filterErrors(errors: readonly ErrorObject[]): ErrorObject[] {
  const groups = errors.filter((e) => GROUP_KEYWORDS.has(e.keyword)).map((e) => `${e.schemaPath}/`);
  const typePaths = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  return errors.filter((e) => {
    if (e.keyword === 'if') return false;
    if (groups.some((g) => e.schemaPath.startsWith(g))) return false;
    if (e.keyword !== 'type' && typePaths.has(e.instancePath)) return false;
    return true;
  });
}

function toPath(pointer: string, root: unknown): Array<string | number> {
  if (pointer === '') return [];
  const out: Array<string | number> = [];
  let node: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      const i = Number(seg);
      out.push(i);
      node = node[i];
    } else {
      out.push(seg);
      node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `${JSON.stringify(value)} (a string)`;
  if (typeof value === 'number') return Number.isInteger(value) ? `${value} (an integer)` : `${value} (a number)`;
  return `${String(value)} (${typeof value})`;
}

const TYPE_NAMES: Record<string, string> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'a mapping (`key: value` lines)',
  array: 'a list (`- item` lines)',
  null: 'empty',
};

function typeHint(expected: string[], data: unknown, schema: JsonSchema | undefined): string {
  const wantsNumber = expected.includes('integer') || expected.includes('number');
  if (typeof data === 'string' && wantsNumber && /^-?\d+(\.\d+)?$/.test(data.trim())) return 'remove the quotes around the number';
  if (typeof data === 'number' && expected.includes('integer') && !Number.isInteger(data)) return 'use a whole number';
  if (expected.includes('string') && (typeof data === 'number' || typeof data === 'boolean')) {
    if (schema?.format?.startsWith('duration') && typeof data === 'number') return `a duration needs a unit, e.g. \`${data}s\` or \`${data}ms\``;
    return `quote the value so YAML reads it as text: \`"${String(data)}"\``;
  }
  if (expected.includes('boolean') && typeof data === 'string') return 'write `true` or `false` without quotes';
  if (expected.includes('array') && data !== null && typeof data !== 'object') return 'write a list: one `- item` per line, or `[a, b]`';
  if (expected.includes('array') && data !== null && typeof data === 'object') return 'write a list: start each entry with `- `';
  if (expected.includes('object') && Array.isArray(data)) return 'write `key: value` lines here, not a list (no `- ` or `[...]`)';
  if (expected.includes('object')) return 'write nested `key: value` lines indented under this key';
  return 'change the value to the expected type';
}

function fieldsOf(branches: JsonSchema[] | undefined): string[] {
  return (branches ?? []).flatMap((b) => b.required ?? []);
}

function present(data: unknown, fields: readonly string[]): string[] {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return [];
  const keys = Object.keys(data);
  return keys.filter((k) => fields.includes(k));
}

function firstSentence(text: string | undefined): string {
  if (!text) return '';
  const m = /^(.*?\.)(\s|$)/.exec(text);
  return m ? m[1]! : text;
}

function convert(e: ErrorObject, root: unknown, locator: Locator): Finding {
  const path = toPath(e.instancePath, root);
  const where = formatPath(path);
  const parent = e.parentSchema as JsonSchema | undefined;
  const title = parent?.title;
  const data = e.data;
  const mk = (name: FindingCodeName, message: string, hint: string | undefined, at: SourceLocation): Finding =>
    makeFinding(name, message, hint ? { hint, location: at } : { location: at });

  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      const known = Object.keys(parent?.properties ?? {});
      const guess = closestMatch(key, known);
      const hint = guess
        ? `did you mean \`${guess}\`?`
        : known.length > 0
          ? `fields allowed here${title ? ` (${title})` : ''}: ${listWords(known, 'and')}`
          : 'remove it';
      return mk('UNKNOWN_FIELD', `${where}: unknown field \`${key}\``, hint, locator.locate([...path, key], { key: true }));
    }
    case 'required': {
      const missing = String((e.params as { missingProperty: string }).missingProperty);
      const desc = firstSentence(parent?.properties?.[missing]?.description);
      const mode = data !== null && typeof data === 'object' ? (data as Record<string, unknown>)['mode'] : undefined;
      const because = e.schemaPath.includes('/then/') && typeof mode === 'string' ? ` (needed with mode ${mode} when credentialName is not set)` : '';
      return mk('MISSING_FIELD', `${where}: missing required field \`${missing}\`${because}`, `add \`${missing}:\`${desc ? ` (${desc})` : ''}`, locator.locate(path));
    }
    case 'type': {
      const expected = ([] as string[]).concat((e.params as { type: string | string[] }).type);
      const names = expected.map((t) => (expected.length > 1 && t === 'boolean' ? 'a boolean' : (TYPE_NAMES[t] ?? t)));
      const wanted = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}` : names[0]!;
      const at = locator.locate(path);
      if (data === null || data === undefined) return mk('WRONG_TYPE', `${where} has no value: expected ${wanted}`, 'give it a value, or remove the key', at);
      return mk('WRONG_TYPE', `${where} must be ${wanted}, got ${describe(data)}`, typeHint(expected, data, parent), at);
    }
    case 'enum':
    case 'const': {
      const allowed = e.keyword === 'enum' ? ((e.params as { allowedValues: unknown[] }).allowedValues ?? []) : [(e.params as { allowedValue: unknown }).allowedValue];
      const words = allowed.map(String);
      const guess = typeof data === 'string' ? closestMatch(data, words) : undefined;
      const hint = guess ? `did you mean \`${guess}\`?` : 'write one of the listed values exactly (they are case-sensitive)';
      return mk('VALUE_NOT_ALLOWED', `${where} must be one of ${listWords(words)}, got ${describe(data)}`, hint, locator.locate(path));
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const min = parent?.minimum;
      const max = parent?.maximum;
      const range = min !== undefined && max !== undefined ? `between ${min} and ${max}` : min !== undefined ? `at least ${min}` : `at most ${max}`;
      return mk('OUT_OF_RANGE', `${where} must be ${range}, got ${String(data)}`, `use a value ${range}`, locator.locate(path));
    }
    case 'minItems':
      return mk('EMPTY_VALUE', `${where} is an empty list`, 'list at least one entry, or remove the key', locator.locate(path));
    case 'minLength':
      return mk('EMPTY_VALUE', `${where} is empty`, 'give it a value, or remove the key', locator.locate(path));
    case 'minProperties':
      if (title === 'HTTPMatchRequest') {
        return mk('EMPTY_VALUE', `${where}: empty match block \`{}\``, 'remove it (a route without `match` matches every request) or give it a condition such as `uri: {prefix: /api}`', locator.locate(path));
      }
      if (typeof parent?.additionalProperties === 'object') return mk('EMPTY_VALUE', `${where} is empty`, 'add at least one entry', locator.locate(path));
      return mk('EMPTY_VALUE', `${where} is empty`, 'give it at least one field, or remove it', locator.locate(path));
    case 'format': {
      const format = String((e.params as { format: string }).format);
      const p = typeof data === 'string' ? checkFormat(format, data) : undefined;
      if (p) return mk(p.code, `${where} ${JSON.stringify(data)} ${p.problem}`, p.hint || undefined, locator.locate(path));
      return mk('SCHEMA_VIOLATION', `${where} is not a valid ${format}`, undefined, locator.locate(path));
    }
    case 'propertyNames': {
      const name = String((e.params as { propertyName: string }).propertyName);
      const format = parent?.propertyNames?.format;
      const p = format ? checkFormat(format, name) : undefined;
      const at = locator.locate([...path, name], { key: true });
      if (p) return mk(p.code, `${where}: key ${JSON.stringify(name)} ${p.problem}`, p.hint || undefined, at);
      return mk('INVALID_NAME', `${where}: key ${JSON.stringify(name)} is not allowed`, undefined, at);
    }
    case 'oneOf': {
      const fields = fieldsOf(parent?.oneOf);
      const found = present(data, fields);
      const what = title ? ` (${title} takes exactly one of ${listWords(fields)})` : '';
      if (found.length === 0) {
        return mk('MISSING_ONE_OF', `${where} needs one of ${listWords(fields)}`, `add exactly one of ${listWords(fields)}`, locator.locate(path));
      }
      return mk(
        'CONFLICTING_FIELDS',
        `${where}: ${listWords(found, 'and')} cannot be used together${what}`,
        `keep only one of ${listWords(found)}`,
        locator.locate([...path, found[1]!], { key: true }),
      );
    }
    case 'anyOf': {
      const fields = fieldsOf(parent?.anyOf);
      return mk('MISSING_ONE_OF', `${where} needs at least one of ${listWords(fields)}`, `add ${listWords(fields)}`, locator.locate(path));
    }
    case 'not': {
      const pairs = (parent?.not?.anyOf ?? []).map((b) => b.required ?? []);
      const fields = [...new Set(pairs.flat())];
      const found = present(data, fields);
      const conflict = found.length >= 2 ? found.slice(0, 2) : fields.slice(0, 2);
      return mk(
        'CONFLICTING_FIELDS',
        `${where}: \`${conflict[1]}\` cannot be used together with \`${conflict[0]}\``,
        fields.length > 2 ? `keep only one of ${listWords(fields)}` : `remove one of them`,
        locator.locate([...path, conflict[1]!], { key: true }),
      );
    }
    case 'pattern':
      return mk('SCHEMA_VIOLATION', `${where} ${describe(data)} is not in the expected form${parent?.description ? `: ${firstSentence(parent.description)}` : ''}`, undefined, locator.locate(path));
    default:
      return mk('SCHEMA_VIOLATION', `${where} ${e.message ?? 'is invalid'}`, undefined, locator.locate(path));
  }
}

/**
 * Request bodies decoded the way Toxiproxy's Go server decodes them (encoding/json), so a bad
 * body gets the error text a Toxiproxy client would see:
 *
 *   - keys match struct fields case-insensitively, unknown keys are ignored, `null` keeps the
 *     field's current value;
 *   - a value of the wrong JSON type is `json: cannot unmarshal <kind> into Go struct field
 *     <Struct>.<path> of type <type>` (the first one wins; decoding goes on as Go's does);
 *   - a body that is not JSON is Go's syntax error (`EOF`, `unexpected EOF`,
 *     `invalid character 'x' looking for beginning of value`).
 */

export type GoType = 'string' | 'bool' | 'float32' | 'int64' | 'int';

export interface GoField {
  /** the JSON name (struct tag) */
  json: string;
  type: GoType;
}

export interface GoStruct {
  /** Go's struct type name in errors, e.g. `Proxy`, `LatencyToxic` ('' for an anonymous struct) */
  name: string;
  fields: readonly GoField[];
}

export class GoJsonError extends Error {}

/** parses a body as Go's json.Decoder reads its first value; throws GoJsonError with Go's text */
export function parseGoJson(text: string): unknown {
  if (text.trim() === '') throw new GoJsonError('EOF');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const msg = (e as Error).message;
    if (/end of JSON input|Unterminated/i.test(msg)) throw new GoJsonError('unexpected EOF');
    const at = /position (\d+)/.exec(msg);
    const token = /Unexpected token '(.)'/.exec(msg);
    const pos = at ? Number(at[1]) : token ? text.indexOf(token[1]!) : text.search(/\S/);
    const ch = text[pos] ?? '';
    if (!ch) throw new GoJsonError('unexpected EOF');
    const before = text.slice(0, pos).trimEnd();
    const context = before === '' ? 'looking for beginning of value' : /[{,]$/.test(before) ? 'looking for beginning of object key string' : /:$/.test(before) ? 'looking for beginning of value' : 'after object key:value pair';
    throw new GoJsonError(`invalid character '${ch}' ${context}`);
  }
}

/** Go's name for the JSON kind of a value, as in UnmarshalTypeError (`number 1.5`, `string`) */
function kindOf(v: unknown): string {
  if (typeof v === 'number') return `number ${String(v)}`;
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'array';
  return 'object';
}

function fits(type: GoType, v: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof v === 'string';
    case 'bool':
      return typeof v === 'boolean';
    case 'float32':
      return typeof v === 'number';
    case 'int64':
      return typeof v === 'number' && Number.isSafeInteger(v);
    case 'int':
      return typeof v === 'number' && Number.isSafeInteger(v);
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Decodes `value` (a JSON object) into `into` with Go's rules. `prefix` is the field path of
 * this struct inside the decoded value (`attributes.` for a toxic's attributes). Returns Go's
 * error text for the first field of the wrong type, or undefined.
 */
export function decodeStruct(value: Record<string, unknown>, struct: GoStruct, into: Record<string, unknown>, prefix = ''): string | undefined {
  let first: string | undefined;
  for (const [key, v] of Object.entries(value)) {
    const field = struct.fields.find((f) => f.json === key) ?? struct.fields.find((f) => f.json.toLowerCase() === key.toLowerCase());
    if (!field || v === null) continue;
    if (fits(field.type, v)) {
      into[field.json] = v;
      continue;
    }
    // Go names the number only when it is a number that does not fit (`number 1.5` into an int)
    const kind = typeof v === 'number' && field.type !== 'string' && field.type !== 'bool' ? kindOf(v) : kindOf(v).split(' ')[0];
    first ??= `json: cannot unmarshal ${kind} into Go struct field ${struct.name}.${prefix}${field.json} of type ${field.type}`;
  }
  return first;
}

/** Go's error for a top-level value of the wrong kind: `json: cannot unmarshal array into Go value of type toxiproxy.Proxy` */
export function notAnObject(v: unknown, goType: string): string {
  return `json: cannot unmarshal ${kindOf(v).split(' ')[0]} into Go value of type ${goType}`;
}

/** Go's error for a nested struct field of the wrong kind: `... into Go struct field ToxicWrapper.attributes of type toxics.NoopToxic` */
export function fieldNotAnObject(v: unknown, struct: string, field: string, goType: string): string {
  return `json: cannot unmarshal ${kindOf(v).split(' ')[0]} into Go struct field ${struct}.${field} of type ${goType}`;
}

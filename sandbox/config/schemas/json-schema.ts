/**
 * Small builders for the JSON Schemas of sandbox/config/schemas. The schemas are plain
 * JSON-compatible objects (draft-07), so they can be written out as JSON Schema files for editor
 * completion; meshbox-specific string checks use named `format`s (duration, re2, istio-host, ...)
 * that editors ignore and ajv runs (see ../schema-validator.ts).
 *
 * Conventions that the error converter (../schema-findings.ts) relies on:
 * - every object is closed (`additionalProperties: false`) and has a `title`;
 * - "exactly one of" is `oneOf` of single-`required` branches, "at least one of" is `anyOf` of
 *   them, "not together" is `not: { anyOf: [ { required: [a, b] }, ... ] }`;
 * - deprecated fields carry `deprecated: true` and a description starting with `Deprecated:`;
 * - fields meshbox accepts (Istio does) but does not apply carry `x-meshbox-not-applied` with
 *   what meshbox does instead (see ../not-applied.ts): every such field, at any depth, gets a
 *   "recognised, not applied" warning with its location.
 */

export type JsonType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | 'null';

export interface JsonSchema {
  $schema?: string;
  $id?: string;
  $ref?: string;
  definitions?: Record<string, JsonSchema>;
  title?: string;
  description?: string;
  deprecated?: boolean;
  /** meshbox accepts the field but does not apply it: what happens instead (an annotation) */
  'x-meshbox-not-applied'?: string;
  default?: unknown;
  examples?: unknown[];
  type?: JsonType | JsonType[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  minProperties?: number;
  maxProperties?: number;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  enum?: unknown[];
  const?: unknown;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  not?: JsonSchema;
  if?: JsonSchema;
  then?: JsonSchema;
}

/** The meshbox string formats; see ../formats.ts for their checks. */
export type StringFormat =
  | 'duration'
  | 'duration-min-1ms'
  | 're2'
  | 'dns1123-label'
  | 'dns1123-subdomain'
  | 'istio-host'
  | 'gateway-host'
  | 'gateway-ref'
  | 'gateway-protocol'
  | 'label-key'
  | 'label-value'
  | 'env-name';

export const INT32_MAX = 2_147_483_647;
export const UINT32_MAX = 4_294_967_295;

export interface ObjectOptions {
  required?: string[];
  /** oneof / not-together / at-least-one rules built with the helpers below */
  rules?: JsonSchema[];
  minProperties?: number;
}

export function obj(title: string, description: string, properties: Record<string, JsonSchema>, opts: ObjectOptions = {}): JsonSchema {
  const s: JsonSchema = { type: 'object', title, description, properties, additionalProperties: false };
  if (opts.required?.length) s.required = opts.required;
  if (opts.minProperties !== undefined) s.minProperties = opts.minProperties;
  // the title is repeated on each rule so errors of the rule can name the object
  if (opts.rules?.length) s.allOf = opts.rules.map((r) => ({ title, ...r }));
  return s;
}

export function str(description: string, extra: Partial<JsonSchema> = {}): JsonSchema {
  return { type: 'string', description, ...extra };
}

export function fmt(format: StringFormat, description: string, extra: Partial<JsonSchema> = {}): JsonSchema {
  return { type: 'string', format, description, ...extra };
}

export function int(description: string, minimum?: number, maximum?: number, extra: Partial<JsonSchema> = {}): JsonSchema {
  const s: JsonSchema = { type: 'integer', description, ...extra };
  if (minimum !== undefined) s.minimum = minimum;
  if (maximum !== undefined) s.maximum = maximum;
  return s;
}

export function num(description: string, minimum?: number, maximum?: number): JsonSchema {
  const s: JsonSchema = { type: 'number', description };
  if (minimum !== undefined) s.minimum = minimum;
  if (maximum !== undefined) s.maximum = maximum;
  return s;
}

export function bool(description: string): JsonSchema {
  return { type: 'boolean', description };
}

export function oneOfValues(values: readonly string[], description: string): JsonSchema {
  return { type: 'string', enum: [...values], description };
}

export function list(items: JsonSchema, description: string, extra: Partial<JsonSchema> = {}): JsonSchema {
  return { type: 'array', items, description, ...extra };
}

export function strings(description: string, item: JsonSchema = { type: 'string' }, extra: Partial<JsonSchema> = {}): JsonSchema {
  return list(item, description, extra);
}

/** A mapping with free keys (`propertyNames` checks them) and values of one schema. */
export function map(values: JsonSchema, description: string, keys?: JsonSchema): JsonSchema {
  const s: JsonSchema = { type: 'object', description, additionalProperties: values };
  if (keys) s.propertyNames = keys;
  return s;
}

export function duration(description: string, atLeast1ms = false): JsonSchema {
  return fmt(atLeast1ms ? 'duration-min-1ms' : 'duration', description, { examples: ['500ms', '1.5s', '1m'] });
}

export function deprecated(schema: JsonSchema, replacement: string): JsonSchema {
  return { ...schema, deprecated: true, description: `Deprecated: ${replacement}. ${schema.description ?? ''}`.trim() };
}

export const NOT_APPLIED_KEYWORD = 'x-meshbox-not-applied';

/**
 * A field Istio applies and meshbox accepts but does not apply (yet); `instead` says what meshbox
 * does instead, e.g. `no copy of the traffic is sent`.
 */
export function notApplied(schema: JsonSchema, instead: string): JsonSchema {
  return { ...schema, [NOT_APPLIED_KEYWORD]: instead, description: `${schema.description ?? ''} Recognised, not applied by meshbox: ${instead}.`.trim() };
}

/** Exactly one of `fields` must be set. */
export function exactlyOneOf(...fields: string[]): JsonSchema {
  return { oneOf: fields.map((f) => ({ required: [f] })) };
}

/** At least one of `fields` must be set. */
export function atLeastOneOf(...fields: string[]): JsonSchema {
  return { anyOf: fields.map((f) => ({ required: [f] })) };
}

/** No two of `fields` may be set together. */
export function atMostOneOf(...fields: string[]): JsonSchema {
  const pairs: JsonSchema[] = [];
  for (let i = 0; i < fields.length; i++) {
    for (let j = i + 1; j < fields.length; j++) pairs.push({ required: [fields[i]!, fields[j]!] });
  }
  return { not: { anyOf: pairs } };
}

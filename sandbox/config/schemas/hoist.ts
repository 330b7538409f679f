/**
 * The schemas are written with shared pieces inlined (one TypeScript object used in several
 * places, e.g. TrafficPolicy under a DestinationRule, its subsets and its port settings). For
 * ajv and for exported JSON Schema files, titled objects used more than once are hoisted into
 * `definitions` and referenced with `$ref`, so each is compiled once and written once.
 */
import type { JsonSchema } from './json-schema.js';

const SINGLE = ['items', 'not', 'if', 'then', 'propertyNames'] as const;
const LISTS = ['oneOf', 'anyOf', 'allOf'] as const;

function children(s: JsonSchema): JsonSchema[] {
  const out: JsonSchema[] = Object.values(s.properties ?? {});
  for (const key of SINGLE) if (s[key]) out.push(s[key]!);
  if (typeof s.additionalProperties === 'object') out.push(s.additionalProperties);
  for (const key of LISTS) out.push(...(s[key] ?? []));
  return out;
}

export function hoistSharedSchemas(root: JsonSchema): JsonSchema {
  const count = new Map<JsonSchema, number>();
  const visit = (s: JsonSchema): void => {
    const n = (count.get(s) ?? 0) + 1;
    count.set(s, n);
    if (n === 1) children(s).forEach(visit);
  };
  visit(root);

  const names = new Map<JsonSchema, string>();
  const taken = new Set<string>();
  for (const [s, n] of count) {
    if (n < 2 || s === root || s.type !== 'object' || !s.title) continue;
    let name = s.title;
    for (let i = 2; taken.has(name); i++) name = `${s.title}${i}`;
    taken.add(name);
    names.set(s, name);
  }

  const copy = (s: JsonSchema, inline = false): JsonSchema => {
    const name = names.get(s);
    if (name && !inline) return { $ref: `#/definitions/${name}` };
    const out: JsonSchema = { ...s };
    if (s.properties) out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, copy(v)]));
    for (const key of SINGLE) if (s[key]) out[key] = copy(s[key]!);
    if (typeof s.additionalProperties === 'object') out.additionalProperties = copy(s.additionalProperties);
    for (const key of LISTS) if (s[key]) out[key] = s[key]!.map((x) => copy(x));
    return out;
  };
  const result = copy(root, true);
  if (names.size > 0) result.definitions = Object.fromEntries([...names].map(([s, name]) => [name, copy(s, true)]));
  return result;
}

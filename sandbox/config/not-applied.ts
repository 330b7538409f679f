/**
 * Fields meshbox accepts, as Istio's API server does, but does not apply: `delegate`, Gateway
 * `tls`, DestinationRule `tcpKeepalive`, ... Each one found in a document, at any depth, is a `warning` (MB1117) "recognised but not applied" with its file:line:col and what
 * meshbox does instead, the way a recognised but unapplied kind is reported (MB1007). They are
 * found by walking the data along the schema (`x-meshbox-not-applied`, see schemas/json-schema.ts),
 * so a field marked there is reported everywhere it appears, and the README's table is checked
 * against the same marks (test/unit/config/not-applied.test.ts).
 */
import type { Finding } from './findings.js';
import { makeFinding } from './codes.js';
import { NOT_APPLIED_KEYWORD, type JsonSchema } from './schemas/json-schema.js';
import { formatPath } from './schema-findings.js';
import type { Locator } from './schema-findings.js';

export const NOT_APPLIED_HINT = 'it stays valid for a real cluster, where it applies; meshbox ignores it (README: "Fields: applied, and recognised but not applied")';

export function notAppliedFindings(schema: JsonSchema, data: unknown, locator: Locator): Finding[] {
  const out: Finding[] = [];
  walk(schema, data, [], locator, out);
  return out;
}

function walk(schema: JsonSchema, data: unknown, path: Array<string | number>, locator: Locator, out: Finding[]): void {
  if (Array.isArray(data)) {
    if (schema.items) data.forEach((item, i) => walk(schema.items!, item, [...path, i], locator, out));
    return;
  }
  if (data === null || typeof data !== 'object') return;
  for (const [key, value] of Object.entries(data)) {
    const child = schema.properties?.[key] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    if (!child) continue;
    const childPath = [...path, key];
    const instead = child[NOT_APPLIED_KEYWORD];
    if (instead !== undefined) {
      // one warning for the field: what is inside it is not applied either
      out.push(notAppliedFinding(childPath, instead, locator));
      continue;
    }
    walk(child, value, childPath, locator, out);
  }
}

export function notAppliedFinding(path: Array<string | number>, instead: string, locator: Locator, what?: string): Finding {
  return makeFinding('FIELD_NOT_APPLIED', `${formatPath(path)}${what ? ` ${what}` : ''} is recognised but not applied by this meshbox version: ${instead}`, {
    hint: NOT_APPLIED_HINT,
    location: locator.locate(path, { key: what === undefined }),
  });
}

export interface NotAppliedField {
  kind: string;
  /** the field as `<object>.<field>`, e.g. `HTTPRoute.mirror`, `TrafficPolicy.tls` */
  field: string;
  /** one place it appears, e.g. `spec.http[].mirror` */
  example: string;
  instead: string;
}

/** Every field marked not applied in `schema` (each object's once), for documentation and tests. */
export function notAppliedFields(kind: string, schema: JsonSchema): NotAppliedField[] {
  const out: NotAppliedField[] = [];
  const seen = new Set<string>();
  const visit = (s: JsonSchema, path: string, stack: Set<JsonSchema>): void => {
    if (stack.has(s)) return;
    const next = new Set(stack).add(s);
    if (s.items) visit(s.items, `${path}[]`, next);
    if (typeof s.additionalProperties === 'object') visit(s.additionalProperties, `${path}.<key>`, next);
    for (const [key, child] of Object.entries(s.properties ?? {})) {
      const p = `${path}.${key}`;
      const instead = child[NOT_APPLIED_KEYWORD];
      if (instead !== undefined) {
        const field = `${s.title ?? kind}.${key}`;
        if (!seen.has(field)) out.push({ kind, field, example: p, instead });
        seen.add(field);
        continue;
      }
      visit(child, p, next);
    }
  };
  visit(schema, 'spec', new Set());
  return out;
}

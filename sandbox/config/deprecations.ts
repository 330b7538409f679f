/**
 * Deprecated fields (`fault.delay.percent`, `outlierDetection.consecutiveErrors`,
 * `corsPolicy.allowOrigin`, ...) are accepted, as Istio accepts them, with a warning saying what
 * replaces them. They are found by walking the data along the schema (`deprecated: true`).
 */
import type { Finding } from './findings.js';
import { makeFinding } from './codes.js';
import type { JsonSchema } from './schemas/json-schema.js';
import { formatPath } from './schema-findings.js';
import type { Locator } from './schema-findings.js';

export function deprecationFindings(schema: JsonSchema, data: unknown, locator: Locator): Finding[] {
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
    if (child.deprecated) {
      const replacement = /^Deprecated: ([^.]*)/.exec(child.description ?? '')?.[1];
      out.push(
        makeFinding('DEPRECATED_FIELD', `${formatPath(childPath)} is deprecated (still accepted by Istio and meshbox)`, {
          hint: replacement ?? 'see the Istio reference for its replacement',
          location: locator.locate(childPath, { key: true }),
        }),
      );
    }
    walk(child, value, childPath, locator, out);
  }
}

import { describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { resourceJsonSchema, resourceSchema } from '../../../sandbox/config/schemas/resource.js';
import { meshFileJsonSchema, meshFileSchema } from '../../../sandbox/config/schemas/mesh-file.js';
import type { JsonSchema } from '../../../sandbox/config/schemas/json-schema.js';
import { parseYaml } from '../../../sandbox/config/yaml-source.js';

const KINDS = ['VirtualService', 'DestinationRule', 'Gateway'] as const;

/** Every field schema under `properties`, with its path. */
function fields(schema: JsonSchema, path = ''): Array<[string, JsonSchema]> {
  const out: Array<[string, JsonSchema]> = [];
  const seen = new Set<JsonSchema>();
  const walk = (s: JsonSchema, p: string): void => {
    if (seen.has(s)) return;
    seen.add(s);
    for (const [k, v] of Object.entries(s.properties ?? {})) {
      out.push([`${p}.${k}`, v]);
      walk(v, `${p}.${k}`);
    }
    if (s.items) walk(s.items, `${p}[]`);
    if (typeof s.additionalProperties === 'object') walk(s.additionalProperties, `${p}{}`);
  };
  walk(schema, path);
  return out;
}

describe('schemas as JSON Schema files', () => {
  it.each([...KINDS])('%s: every field has a description and every object is closed', (kind) => {
    for (const [path, s] of fields(resourceSchema(kind))) {
      expect(s.description, path).toBeTruthy();
      if (s.properties) expect(s.additionalProperties, path).toBe(false);
    }
  });

  it('meshbox.yaml: every field has a description', () => {
    for (const [path, s] of fields(meshFileSchema)) expect(s.description, path).toBeTruthy();
  });

  it.each([...KINDS])('%s: exports as plain JSON that a generic validator can use', (kind) => {
    const exported = resourceJsonSchema(kind);
    const json = JSON.parse(JSON.stringify(exported)) as JsonSchema;
    expect(json).toEqual(exported);
    expect(json.$schema).toBe('http://json-schema.org/draft-07/schema#');
    const generic = new Ajv({ strict: false, validateFormats: false, allErrors: true });
    const validate = generic.compile(json);
    expect(validate({ apiVersion: 'networking.istio.io/v1', kind, metadata: { name: 'x' }, spec: {} })).toBe(kind === 'VirtualService');
  });

  it('hoists shared pieces into definitions', () => {
    const dr = resourceJsonSchema('DestinationRule');
    expect(Object.keys(dr.definitions ?? {})).toEqual(expect.arrayContaining(['TrafficPolicy', 'LoadBalancerSettings']));
    expect(JSON.stringify(dr).length).toBeLessThan(JSON.stringify(resourceSchema('DestinationRule')).length);
  });

  it('the exported meshbox.yaml schema accepts the sample format', () => {
    const generic = new Ajv({ strict: false, validateFormats: false });
    const validate = generic.compile(JSON.parse(JSON.stringify(meshFileJsonSchema())) as object);
    const value = parseYaml('services:\n  a:\n    port: 80\n    command: [node, a.js]\n    versions: {v1: {replicas: 2}}\n', 'm.yaml').documents[0]!.value;
    expect(validate(value)).toBe(true);
    expect(validate({ services: { a: { port: 80, comand: 'x' } } })).toBe(false);
  });
});

import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { runSchema, SCHEMA_NAMES } from '../../../cli/commands/schema.js';

describe('meshbox schema', () => {
  it.each(SCHEMA_NAMES)('%s prints a draft-07 JSON Schema that compiles', (name) => {
    const lines: string[] = [];
    expect(runSchema(name, { out: (l) => lines.push(l), err: () => undefined })).toBe(0);
    const schema = JSON.parse(lines.join('\n')) as { $schema: string };
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    const ajv = new Ajv({ strict: false, validateFormats: false });
    expect(() => ajv.compile(schema)).not.toThrow();
  });

  it('the Fault schema accepts the README example and rejects a typo', () => {
    const lines: string[] = [];
    runSchema('fault', { out: (l) => lines.push(l), err: () => undefined });
    const validate = new Ajv({ strict: false, validateFormats: false }).compile(JSON.parse(lines.join('\n')));
    const doc = {
      apiVersion: 'meshbox.dev/v1alpha1',
      kind: 'Fault',
      metadata: { name: 'flaky-callme-v2' },
      spec: { target: { service: 'callme-service', subset: 'v2' }, http: { abort: { httpStatus: 503, percent: 50 } } },
    };
    expect(validate(doc)).toBe(true);
    expect(validate({ ...doc, spec: { ...doc.spec, htp: {} } })).toBe(false);
  });

  it('an unknown kind is a usage error naming the choices', () => {
    expect(() => runSchema('nope', { out: () => undefined, err: () => undefined })).toThrow(/no schema for nope/);
  });
});

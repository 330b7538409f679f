/**
 * The exported JSON Schema (scenarios/scenario.schema.json) matches the code, works for a plain
 * JSON Schema validator as editors use it, and every shipped scenario is valid.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseScenarioText } from '../../../sandbox/chaos/scenario-loader.js';
import { scenarioJsonSchema } from '../../../sandbox/chaos/scenario-schema.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const DIR = path.join(ROOT, 'scenarios');
const shipped = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).map((f) => path.join(DIR, f));
const failing = readdirSync(path.join(DIR, 'failing')).filter((f) => f.endsWith('.yaml')).map((f) => path.join(DIR, 'failing', f));

describe('scenario JSON Schema', () => {
  it('scenarios/scenario.schema.json is the schema of this code (regenerate: meshbox scenario schema --write scenarios/scenario.schema.json)', () => {
    const committed = JSON.parse(readFileSync(path.join(DIR, 'scenario.schema.json'), 'utf8')) as unknown;
    expect(committed).toEqual(JSON.parse(JSON.stringify(scenarioJsonSchema())));
  });

  it('describes every field, and works with a plain draft-07 validator (as editors use it)', () => {
    const schema = scenarioJsonSchema();
    const text = JSON.stringify(schema);
    expect(text).toContain('"description":"The steady-state hypothesis');
    const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
    const validate = ajv.compile(JSON.parse(text) as object);
    for (const file of [...shipped, ...failing]) {
      expect(validate(parse(readFileSync(file, 'utf8'))), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    expect(validate({ title: 'x', method: [{ type: 'load', rat: 5 }] })).toBe(false);
  });
});

describe('shipped scenarios', () => {
  it('are the expected set, each valid, with the schema comment for editors', () => {
    expect(shipped.map((f) => path.basename(f))).toEqual([
      'canary-split.yaml',
      'circuit-breaker.yaml',
      'deny-path-rollback.yaml',
      'grpc-retries-mask-abort.yaml',
      'header-routing.yaml',
      'ingress-gateway-jwt.yaml',
      'instance-kill-failover.yaml',
      'jwt-required.yaml',
      'network-latency.yaml',
      'outlier-ejection.yaml',
      'retries-mask-flaky-callme.yaml',
      'sample-allow-v1-only.yaml',
      'strict-mtls-refuses-plaintext.yaml',
      'timeout-vs-slow-callme.yaml',
    ]);
    expect(failing.map((f) => path.basename(f))).toEqual(['retries-cannot-mask-a-dead-callme.yaml']);
    for (const file of [...shipped, ...failing]) {
      const text = readFileSync(file, 'utf8');
      const schemaRef = path.relative(path.dirname(file), path.join(DIR, 'scenario.schema.json'));
      expect(text.split('\n')[0]).toBe(`# yaml-language-server: $schema=${schemaRef.startsWith('.') ? schemaRef : `./${schemaRef}`}`);
      const r = parseScenarioText(text, file);
      expect(r.findings, file).toEqual([]);
      expect(r.scenario!.seed, `${file} has a fixed seed`).toBeTypeOf('number');
    }
  });
});

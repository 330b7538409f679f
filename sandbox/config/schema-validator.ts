/**
 * One ajv instance for all meshbox schemas: `allErrors` (report every problem of a document at
 * once), `verbose` (errors carry the schema and data, which the converter uses for messages),
 * the meshbox string formats, and a compile cache so hot reload validates in microseconds.
 */
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { FORMAT_CHECKS } from './formats.js';
import { NOT_APPLIED_KEYWORD, type JsonSchema } from './schemas/json-schema.js';
import { hoistSharedSchemas } from './schemas/hoist.js';

let ajv: Ajv | undefined;
const compiled = new WeakMap<JsonSchema, ValidateFunction>();

function instance(): Ajv {
  if (!ajv) {
    ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictTypes: false, strictRequired: false, allowUnionTypes: true });
    // an annotation only: ../not-applied.ts reads it
    ajv.addKeyword({ keyword: NOT_APPLIED_KEYWORD, schemaType: 'string' });
    for (const [name, check] of Object.entries(FORMAT_CHECKS)) {
      ajv.addFormat(name, { type: 'string', validate: (v: string) => check(v) === undefined });
    }
  }
  return ajv;
}

/** Validates `data` against `schema`; an empty list means valid. */
export function validateAgainst(schema: JsonSchema, data: unknown): ErrorObject[] {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = instance().compile(hoistSharedSchemas(schema));
    compiled.set(schema, validate);
  }
  return validate(data) ? [] : [...(validate.errors ?? [])];
}

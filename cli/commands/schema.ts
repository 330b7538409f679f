/**
 * `meshbox schema <kind>`: the JSON Schema (draft-07) of a file meshbox reads, for editor
 * completion and validation, e.g. with the YAML language server:
 *   meshbox schema fault > .meshbox/fault.schema.json
 *   # yaml-language-server: $schema=.meshbox/fault.schema.json
 */
import { meshFileJsonSchema } from '../../sandbox/config/schemas/mesh-file.js';
import { resourceJsonSchema } from '../../sandbox/config/schemas/resource.js';
import type { SupportedKind } from '../../sandbox/config/istio-types.js';
import { MeshError } from '../../sandbox/errors.js';
import type { Io } from '../output.js';

const KINDS: Record<string, SupportedKind | 'mesh'> = {
  virtualservice: 'VirtualService',
  destinationrule: 'DestinationRule',
  gateway: 'Gateway',
  fault: 'Fault',
  authorizationpolicy: 'AuthorizationPolicy',
  requestauthentication: 'RequestAuthentication',
  mesh: 'mesh',
  'meshbox.yaml': 'mesh',
};

export const SCHEMA_NAMES = Object.keys(KINDS);

export function runSchema(kind: string, io: Io): number {
  const k = KINDS[kind.toLowerCase()];
  if (!k) throw new MeshError('MESH_ERR_USAGE', [`no schema for ${kind}`], { hint: `choose one of ${SCHEMA_NAMES.join(', ')}` });
  io.out(JSON.stringify(k === 'mesh' ? meshFileJsonSchema() : resourceJsonSchema(k), null, 2));
  return 0;
}

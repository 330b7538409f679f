/**
 * JSON Schema of PeerAuthentication `spec` (istio/api security/v1 peer_authentication.proto).
 */
import { map, obj, oneOfValues } from './json-schema.js';
import type { JsonSchema } from './json-schema.js';
import { labelMap } from './common.js';

export const MTLS_MODES = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] as const;

const mutualTls: JsonSchema = obj('MutualTLS', 'Mutual TLS settings of the workload.', {
  mode: oneOfValues(MTLS_MODES, 'UNSET inherits from the parent (namespace, then mesh; PERMISSIVE at the top); DISABLE: plaintext only; PERMISSIVE: mTLS and plaintext; STRICT: mTLS only.'),
});

export const peerAuthenticationSpec: JsonSchema = obj('PeerAuthentication', 'Which connections a workload accepts: mTLS, plaintext or both.', {
  selector: obj('WorkloadSelector', 'Workloads the policy applies to; without it the policy is namespace-wide (mesh-wide in the root namespace istio-system).', {
    matchLabels: labelMap('Labels a workload must have.'),
  }),
  mtls: mutualTls,
  portLevelMtls: map(mutualTls, 'Per workload port mode (only with a selector); meshbox matches the service port.', { type: 'string', pattern: '^[0-9]{1,5}$', description: 'Workload port number.' }),
});

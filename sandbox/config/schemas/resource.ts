/**
 * Whole-document schemas (apiVersion, kind, metadata, spec) of the kinds meshbox applies, as
 * `kubectl apply` would check them, and their export as standalone JSON Schema files.
 */
import { ENVOY_FILTER_API_VERSIONS, MESHBOX_API_VERSIONS, NETWORKING_API_VERSIONS, SECURITY_API_VERSIONS, TELEMETRY_API_VERSIONS } from '../istio-types.js';
import type { SupportedKind } from '../istio-types.js';
import { fmt, map, obj, str } from './json-schema.js';
import type { JsonSchema } from './json-schema.js';
import { labelMap } from './common.js';
import { hoistSharedSchemas } from './hoist.js';
import { virtualServiceSpec } from './virtual-service.js';
import { destinationRuleSpec } from './destination-rule.js';
import { gatewaySpec } from './gateway.js';
import { faultSpecSchema } from './fault.js';
import { peerAuthenticationSpec } from './peer-authentication.js';
import { authorizationPolicySpec } from './authorization-policy.js';
import { requestAuthenticationSpec } from './request-authentication.js';
import { telemetrySpec } from './telemetry.js';
import { envoyFilterSpec } from './envoy-filter.js';
import { serviceEntrySpec } from './service-entry.js';

const setByKubernetes = (what: string): JsonSchema => ({ description: `${what}; set by Kubernetes, ignored by meshbox.` });

export const objectMeta: JsonSchema = obj(
  'ObjectMeta',
  'Name, namespace, labels and annotations of the resource.',
  {
    name: fmt('dns1123-subdomain', 'Name of the resource: lowercase letters, digits, `-` and `.`.'),
    namespace: fmt('dns1123-label', 'Namespace of the resource (default: `default`). Short host names are expanded with it.'),
    labels: labelMap('Labels of the resource.'),
    annotations: map(str('Annotation value.'), 'Annotations of the resource.'),
    uid: setByKubernetes('Unique id'),
    resourceVersion: setByKubernetes('Version'),
    generation: setByKubernetes('Generation'),
    creationTimestamp: setByKubernetes('Creation time'),
    deletionTimestamp: setByKubernetes('Deletion time'),
    deletionGracePeriodSeconds: setByKubernetes('Deletion grace period'),
    finalizers: setByKubernetes('Finalizers'),
    ownerReferences: setByKubernetes('Owners'),
    managedFields: setByKubernetes('Field managers'),
    selfLink: setByKubernetes('Self link'),
  },
  { required: ['name'] },
);

export const SPEC_SCHEMAS: Record<SupportedKind, JsonSchema> = {
  VirtualService: virtualServiceSpec,
  DestinationRule: destinationRuleSpec,
  Gateway: gatewaySpec,
  Fault: faultSpecSchema,
  PeerAuthentication: peerAuthenticationSpec,
  AuthorizationPolicy: authorizationPolicySpec,
  RequestAuthentication: requestAuthenticationSpec,
  Telemetry: telemetrySpec,
  EnvoyFilter: envoyFilterSpec,
  ServiceEntry: serviceEntrySpec,
};

const KIND_DESCRIPTIONS: Record<SupportedKind, string> = {
  VirtualService: 'Istio VirtualService: how requests to a host are routed (matches, weights, retries, timeouts, faults).',
  DestinationRule: 'Istio DestinationRule: subsets and traffic policies of a destination (load balancing, circuit breaking).',
  Gateway: 'Istio Gateway: the hosts and ports the ingress gateway serves.',
  Fault: "meshbox Fault: HTTP faults Istio lacks and Toxiproxy's network toxics, on a service or subset.",
  PeerAuthentication: 'Istio PeerAuthentication: whether workloads accept mTLS, plaintext or both (STRICT, PERMISSIVE, DISABLE).',
  AuthorizationPolicy: 'Istio AuthorizationPolicy: which requests the selected workloads ALLOW, DENY or AUDIT.',
  RequestAuthentication: 'Istio RequestAuthentication: which JWTs the selected workloads accept.',
  Telemetry: 'Istio Telemetry: trace sampling and custom span tags of the selected workloads (metrics and access logging: recognised, not applied).',
  EnvoyFilter: "Istio EnvoyFilter: patches to the proxies' Envoy configuration (meshbox applies the local rate limit; other patches are recognised, not applied).",
  ServiceEntry: 'Istio ServiceEntry: hosts outside (or inside) the mesh that sidecars may call, with their ports and endpoints.',
};

const built = new Map<SupportedKind, JsonSchema>();

/** The schema of a whole document of `kind` (built once, so its compiled validator is reused). */
export function resourceSchema(kind: SupportedKind): JsonSchema {
  let schema = built.get(kind);
  if (!schema) {
    schema = buildResourceSchema(kind);
    built.set(kind, schema);
  }
  return schema;
}

function buildResourceSchema(kind: SupportedKind): JsonSchema {
  return obj(
    kind,
    KIND_DESCRIPTIONS[kind],
    {
      apiVersion:
        kind === 'Fault'
          ? { type: 'string', enum: [...MESHBOX_API_VERSIONS], description: 'API version: meshbox.dev/v1alpha1.' }
          : kind === 'PeerAuthentication' || kind === 'AuthorizationPolicy' || kind === 'RequestAuthentication'
            ? { type: 'string', enum: [...SECURITY_API_VERSIONS], description: 'API version: security.istio.io/v1 (or v1beta1).' }
            : kind === 'Telemetry'
              ? { type: 'string', enum: [...TELEMETRY_API_VERSIONS], description: 'API version: telemetry.istio.io/v1 (or v1alpha1).' }
              : kind === 'EnvoyFilter'
                ? { type: 'string', enum: [...ENVOY_FILTER_API_VERSIONS], description: 'API version: networking.istio.io/v1alpha3.' }
                : { type: 'string', enum: [...NETWORKING_API_VERSIONS], description: 'API version: networking.istio.io/v1 (or v1beta1, v1alpha3).' },
      kind: { type: 'string', const: kind, description: 'The kind of the resource.' },
      metadata: objectMeta,
      spec: SPEC_SCHEMAS[kind],
      status: { description: 'Status written by Istio; ignored by meshbox.' },
    },
    { required: ['apiVersion', 'kind', 'metadata', 'spec'] },
  );
}

/** A standalone JSON Schema file (draft-07) for editors, e.g. `virtualservice.schema.json`. */
export function resourceJsonSchema(kind: SupportedKind): JsonSchema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: `urn:meshbox:schema:${kind.toLowerCase()}`,
    ...hoistSharedSchemas(resourceSchema(kind)),
  };
}

/**
 * What meshbox does with each kind of document found in a rules folder:
 * - `applied`: VirtualService, DestinationRule, Gateway (networking.istio.io v1/v1beta1/v1alpha3),
 *   PeerAuthentication, AuthorizationPolicy and RequestAuthentication (security.istio.io
 *   v1/v1beta1), meshbox's own Fault (meshbox.dev/v1alpha1), and Telemetry
 *   (telemetry.istio.io v1/v1alpha1: its tracing part), and EnvoyFilter
 *   (networking.istio.io v1alpha3: its local rate limit patches, the others reported),
 *   ServiceEntry (egress: hosts outside the mesh);
 * - `istio`: other Istio kinds, recognised (apiVersion checked) but not applied: a warning;
 * - `kubernetes`: Kubernetes kinds (Deployment, Service, ...): info, meshbox.yaml defines services;
 * - `unknown`: anything else: a warning, never a crash.
 */
import { ENVOY_FILTER_API_VERSIONS, MESHBOX_API_VERSIONS, NETWORKING_API_VERSIONS, SECURITY_API_VERSIONS, TELEMETRY_API_VERSIONS } from './istio-types.js';
import type { SupportedKind } from './istio-types.js';

export type KindClass =
  | { class: 'applied'; kind: SupportedKind }
  | { class: 'istio'; kind: string }
  | { class: 'gateway-api'; kind: string }
  | { class: 'kubernetes'; kind: string }
  | { class: 'unknown'; kind: string }
  /** a known kind whose apiVersion does not serve it */
  | { class: 'bad-api-version'; kind: string; expected: readonly string[] };

const NETWORKING = [...NETWORKING_API_VERSIONS];
const SECURITY = [...SECURITY_API_VERSIONS];

const APPLIED: Record<SupportedKind, readonly string[]> = {
  VirtualService: NETWORKING,
  DestinationRule: NETWORKING,
  Gateway: NETWORKING,
  Fault: [...MESHBOX_API_VERSIONS],
  PeerAuthentication: SECURITY,
  AuthorizationPolicy: SECURITY,
  RequestAuthentication: SECURITY,
  Telemetry: [...TELEMETRY_API_VERSIONS],
  EnvoyFilter: [...ENVOY_FILTER_API_VERSIONS],
  ServiceEntry: NETWORKING,
};

/** Istio kinds meshbox recognises but does not apply, with the apiVersions that serve them. */
export const ISTIO_KINDS: Record<string, readonly string[]> = {
  Sidecar: NETWORKING,
  WorkloadEntry: NETWORKING,
  WorkloadGroup: NETWORKING,
  ProxyConfig: ['networking.istio.io/v1beta1'],

  WasmPlugin: ['extensions.istio.io/v1alpha1'],
  IstioOperator: ['install.istio.io/v1alpha1'],
};

const GATEWAY_API_GROUP = 'gateway.networking.k8s.io/';

export const KUBERNETES_KINDS = new Set([
  'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Pod', 'Job', 'CronJob', 'Service', 'Endpoints',
  'EndpointSlice', 'ConfigMap', 'Secret', 'ServiceAccount', 'Namespace', 'Ingress', 'IngressClass',
  'NetworkPolicy', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'ClusterRole',
  'ClusterRoleBinding', 'PersistentVolume', 'PersistentVolumeClaim', 'StorageClass', 'LimitRange',
  'ResourceQuota', 'CustomResourceDefinition', 'List', 'PriorityClass',
  'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration',
]);

export function classifyKind(apiVersion: string, kind: string): KindClass {
  if (apiVersion.startsWith(GATEWAY_API_GROUP)) return { class: 'gateway-api', kind };
  if (Object.hasOwn(APPLIED, kind)) {
    const k = kind as SupportedKind;
    return APPLIED[k].includes(apiVersion) ? { class: 'applied', kind: k } : { class: 'bad-api-version', kind, expected: APPLIED[k] };
  }
  const istio = Object.hasOwn(ISTIO_KINDS, kind) ? ISTIO_KINDS[kind] : undefined;
  if (istio) return istio.includes(apiVersion) ? { class: 'istio', kind } : { class: 'bad-api-version', kind, expected: istio };
  if (KUBERNETES_KINDS.has(kind)) return { class: 'kubernetes', kind };
  return { class: 'unknown', kind };
}

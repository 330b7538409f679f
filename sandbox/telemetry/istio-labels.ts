/**
 * Istio's standard metric labels (reference/istio-semantics.md §3.2), shared by the request
 * metrics (./metrics.ts) and the TCP metrics (./tcp-metrics.ts).
 */
/** Istio's default histogram buckets (ms for durations, bytes for sizes) */
export const ISTIO_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

export const ISTIO_LABELS = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_canonical_service',
  'source_canonical_revision',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_cluster',
  'request_protocol',
  'response_flags',
  'connection_security_policy',
  'response_code',
  'grpc_response_status',
] as const;

/** the Prometheus-side labels of Istio's scrape setup, which meshbox attaches per proxy */
export const INSTANCE_LABELS = ['namespace', 'pod'] as const;


/** Istio's default cluster id, as a single-cluster mesh reports it */
export const CLUSTER_ID = 'Kubernetes';

/** the reporter and the workload labels of both peers: what a request and a TCP connection report alike */
export function peerLabels(e: {
  reporter: 'source' | 'destination';
  source: { workload: string; namespace: string; principal: string; app: string; version: string; canonicalService: string; canonicalRevision: string };
  destination: {
    workload: string;
    namespace: string;
    principal: string;
    app: string;
    version: string;
    service: string;
    serviceName: string;
    serviceNamespace: string;
    canonicalService: string;
    canonicalRevision: string;
  };
}): Record<Extract<(typeof ISTIO_LABELS)[number], 'reporter' | `source_${string}` | `destination_${string}`>, string> {
  const s = e.source;
  const d = e.destination;
  return {
    reporter: e.reporter,
    source_workload: s.workload,
    source_workload_namespace: s.namespace,
    source_principal: s.principal,
    source_app: s.app,
    source_version: s.version,
    source_canonical_service: s.canonicalService,
    source_canonical_revision: s.canonicalRevision,
    source_cluster: s.workload === 'unknown' ? 'unknown' : CLUSTER_ID,
    destination_workload: d.workload,
    destination_workload_namespace: d.namespace,
    destination_principal: d.principal,
    destination_app: d.app,
    destination_version: d.version,
    destination_service: d.service,
    destination_service_name: d.serviceName,
    destination_service_namespace: d.serviceNamespace,
    destination_canonical_service: d.canonicalService,
    destination_canonical_revision: d.canonicalRevision,
    destination_cluster: d.workload === 'unknown' ? 'unknown' : CLUSTER_ID,
  };
}

/**
 * Workload identity, as Istio names it: the SPIFFE id `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`
 * carried as the URI SAN of a workload's certificate, and the "principal" form policies and
 * metrics use (`cluster.local/ns/<ns>/sa/<sa>`, the id without `spiffe://`).
 */
export const TRUST_DOMAIN = 'cluster.local';
const SPIFFE_PREFIX = 'spiffe://';

export interface WorkloadIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

export function spiffeId(namespace: string, serviceAccount: string, trustDomain = TRUST_DOMAIN): string {
  return `${SPIFFE_PREFIX}${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** `spiffe://cluster.local/ns/default/sa/caller` -> `cluster.local/ns/default/sa/caller` (Istio's principal) */
export function principalOf(spiffe: string): string {
  return spiffe.startsWith(SPIFFE_PREFIX) ? spiffe.slice(SPIFFE_PREFIX.length) : spiffe;
}

/** parses a SPIFFE id of Istio's form; undefined when it is not one */
export function parseSpiffeId(uri: string): WorkloadIdentity | undefined {
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(uri);
  return m ? { trustDomain: m[1]!, namespace: m[2]!, serviceAccount: m[3]! } : undefined;
}

/** the URI SANs of a peer certificate as Node reports them (`subjectaltname`: `URI:spiffe://..., DNS:...`) */
export function uriSans(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  return subjectAltName
    .split(/,\s*/)
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
}

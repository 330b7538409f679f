/**
 * TLS settings in the snapshot, compiled from Istio's resources:
 * - inbound listeners: the PeerAuthentication mode of the workload port (./peer-authentication.ts);
 * - outbound clusters: DestinationRule `trafficPolicy.tls` (per port and per subset, merged by the
 *   compiler like every other policy field), or Istio's auto mTLS when it sets none.
 */
import type { EffectiveMtlsMode } from './peer-authentication.js';

export interface InboundMtlsConfig {
  mode: EffectiveMtlsMode;
  /** which policy decided, for explanations */
  source: string;
}

export type UpstreamTlsMode = 'AUTO' | 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';

export interface UpstreamTlsConfig {
  /** AUTO: no DestinationRule `tls`; Istio's auto mTLS decides per endpoint */
  mode: UpstreamTlsMode;
  source: string;
  sni?: string;
  subjectAltNames?: string[];
  /** MUTUAL / SIMPLE: files, as in the DestinationRule */
  clientCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  insecureSkipVerify?: boolean;
}

interface ClientTlsSettings {
  mode?: string;
  sni?: string;
  subjectAltNames?: string[];
  clientCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  insecureSkipVerify?: boolean;
}

const MODES: readonly UpstreamTlsMode[] = ['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'];

/** a cluster's TLS from its merged DestinationRule policy (`tls` as written there, or none) */
export function upstreamTls(tls: unknown, policySource: string | undefined): UpstreamTlsConfig {
  const t = (tls ?? undefined) as ClientTlsSettings | undefined;
  const mode = t?.mode && (MODES as readonly string[]).includes(t.mode) ? (t.mode as UpstreamTlsMode) : undefined;
  if (!t || !mode) return { mode: 'AUTO', source: 'auto mTLS (no DestinationRule tls)' };
  return {
    mode,
    source: `${policySource ?? 'DestinationRule'} tls.mode ${mode}`,
    ...(t.sni ? { sni: t.sni } : {}),
    ...(t.subjectAltNames?.length ? { subjectAltNames: t.subjectAltNames } : {}),
    ...(t.clientCertificate ? { clientCertificate: t.clientCertificate } : {}),
    ...(t.privateKey ? { privateKey: t.privateKey } : {}),
    ...(t.caCertificates ? { caCertificates: t.caCertificates } : {}),
    ...(t.insecureSkipVerify ? { insecureSkipVerify: true } : {}),
  };
}

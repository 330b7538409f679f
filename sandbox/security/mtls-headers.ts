/**
 * `x-forwarded-client-cert`, as Istio's sidecars set it toward the app (forward_client_cert_details
 * APPEND_FORWARD, set_current_client_cert_details {subject, uri, dns}):
 *
 *   By=<server SPIFFE id>;Hash=<hex sha256 of the client certificate DER>;Subject="";URI=<client SPIFFE id>
 *
 * Only on requests that arrived over mTLS; a value the client sent on a plaintext connection is
 * removed (Envoy sanitises XFCC from untrusted clients), one sent over mTLS is appended to.
 */
import { createHash } from 'node:crypto';

export const XFCC_HEADER = 'x-forwarded-client-cert';

export interface PeerCertificateInfo {
  /** DER of the peer's leaf certificate */
  raw: Buffer;
  /** URI SANs */
  uris: string[];
  /** DNS SANs */
  dns: string[];
  /** subject, RFC 2253-ish, '' for Istio workload certificates */
  subject: string;
}

function quote(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** elements by peer certificate (one per connection): the hash is taken once, not per request */
const elements = new WeakMap<PeerCertificateInfo, { by: string | undefined; element: string }>();

/** one XFCC element for the current hop */
export function xfccElement(serverIdentity: string | undefined, peer: PeerCertificateInfo): string {
  const known = elements.get(peer);
  if (known && known.by === serverIdentity) return known.element;
  const element = buildElement(serverIdentity, peer);
  elements.set(peer, { by: serverIdentity, element });
  return element;
}

function buildElement(serverIdentity: string | undefined, peer: PeerCertificateInfo): string {
  const parts: string[] = [];
  if (serverIdentity) parts.push(`By=${serverIdentity}`);
  parts.push(`Hash=${createHash('sha256').update(peer.raw).digest('hex')}`);
  parts.push(`Subject=${quote(peer.subject)}`);
  for (const u of peer.uris) parts.push(`URI=${u}`);
  for (const d of peer.dns) parts.push(`DNS=${d}`);
  return parts.join(';');
}

/** APPEND_FORWARD over mTLS; sanitize on plaintext */
export function applyXfcc(headers: Record<string, unknown>, element: string | undefined): void {
  if (element === undefined) {
    delete headers[XFCC_HEADER];
    return;
  }
  const prior = headers[XFCC_HEADER];
  headers[XFCC_HEADER] = prior ? `${String(prior)},${element}` : element;
}

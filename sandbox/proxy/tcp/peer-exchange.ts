/**
 * Istio's TCP metadata exchange (envoy.filters.network.metadata_exchange), in small: between two
 * sidecars over mTLS with ALPN `istio-peer-exchange`, the client writes a preamble (a magic
 * number, a length, its workload metadata) before the first byte of the stream, and the server
 * reads and removes it, so both sides know the peer workload for TCP metrics (an HTTP hop carries
 * it in a header instead). Without mTLS there is no exchange: the peer stays `unknown`, as in Istio.
 *
 * meshbox's preamble carries the calling proxy's id; the receiving side looks its metadata up in
 * the snapshot.
 */

/** Istio's metadata exchange magic number */
export const MX_MAGIC = 0x3d230467;
/** the ALPN protocol a sidecar's TCP proxy offers toward another sidecar */
export const MX_ALPN = 'istio-peer-exchange';
const MAX_PAYLOAD = 4096;

export function encodePeerPreamble(proxyId: string): Buffer {
  const payload = Buffer.from(JSON.stringify({ id: proxyId }), 'utf8');
  const head = Buffer.alloc(8);
  head.writeUInt32BE(MX_MAGIC, 0);
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

export type PeerPreamble = { id?: string; length: number } | 'invalid' | undefined;

/** the preamble at the start of `data`: its proxy id and byte length; undefined: incomplete */
export function decodePeerPreamble(data: Buffer): PeerPreamble {
  if (data.length < 8) return data.length >= 4 && data.readUInt32BE(0) !== MX_MAGIC ? 'invalid' : undefined;
  if (data.readUInt32BE(0) !== MX_MAGIC) return 'invalid';
  const len = data.readUInt32BE(4);
  if (len > MAX_PAYLOAD) return 'invalid';
  if (data.length < 8 + len) return undefined;
  try {
    const value = JSON.parse(data.subarray(8, 8 + len).toString('utf8')) as { id?: unknown };
    return { ...(typeof value.id === 'string' ? { id: value.id } : {}), length: 8 + len };
  } catch {
    return { length: 8 + len };
  }
}

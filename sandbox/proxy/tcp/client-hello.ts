/**
 * Reads the server name (SNI) of a TLS ClientHello without terminating TLS, as Envoy's
 * tls_inspector listener filter does for `tls[]` routes (RFC 8446 4.1.2, RFC 6066 3): the record
 * header, the handshake header, then the ClientHello's fields up to its extensions, and the
 * `server_name` extension's host_name. Nothing is consumed: the caller puts the bytes back.
 */

export type ClientHelloResult =
  /** a ClientHello: its SNI host name (lower-cased), if it has one, and the ALPN protocols it offers */
  | { tls: true; serverName?: string; alpn?: string[] }
  /** the bytes are not a TLS handshake (or the ClientHello is malformed) */
  | { tls: false }
  /** the ClientHello is not complete yet */
  | undefined;

const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;
const HOST_NAME = 0x00;
/** a TLS record holds at most 16 KiB of plaintext (2^14) plus some */
export const MAX_CLIENT_HELLO_BYTES = 5 + 16_384 + 2048;

export function readClientHello(data: Buffer): ClientHelloResult {
  if (data.length === 0) return undefined;
  if (data[0] !== HANDSHAKE) return { tls: false };
  if (data.length < 5) return undefined;
  if (data[1] !== 0x03) return { tls: false };
  const recordLength = data.readUInt16BE(3);
  if (data.length < 5 + Math.min(recordLength, 4)) return undefined;
  if (data[5] !== CLIENT_HELLO) return { tls: false };
  // the handshake may span several records: the first one holds the fields up to the SNI in
  // practice; what is needed is read across record boundaries from the reassembled body
  const body = handshakeBody(data);
  if (body === undefined) return data.length >= MAX_CLIENT_HELLO_BYTES ? { tls: false } : undefined;
  if (body === null) return { tls: false };
  return parseClientHello(body);
}

/** the ClientHello message (without its 4-byte header), reassembled from records; null when malformed */
function handshakeBody(data: Buffer): Buffer | null | undefined {
  const pieces: Buffer[] = [];
  let at = 0;
  let have = 0;
  let need = -1;
  while (at + 5 <= data.length) {
    if (data[at] !== HANDSHAKE) return null;
    const len = data.readUInt16BE(at + 3);
    const end = at + 5 + len;
    const piece = data.subarray(at + 5, Math.min(end, data.length));
    pieces.push(piece);
    have += piece.length;
    if (need < 0 && have >= 4) {
      const joined = Buffer.concat(pieces);
      need = 4 + ((joined[1]! << 16) | (joined[2]! << 8) | joined[3]!);
    }
    if (need >= 0 && have >= need) return Buffer.concat(pieces).subarray(4, need);
    if (end > data.length) return undefined;
    at = end;
  }
  return undefined;
}

function parseClientHello(b: Buffer): ClientHelloResult {
  let p = 2 + 32; // legacy_version, random
  if (p + 1 > b.length) return { tls: false };
  p += 1 + b[p]!; // legacy_session_id
  if (p + 2 > b.length) return { tls: false };
  p += 2 + b.readUInt16BE(p); // cipher_suites
  if (p + 1 > b.length) return { tls: false };
  p += 1 + b[p]!; // legacy_compression_methods
  if (p === b.length) return { tls: true }; // no extensions
  if (p + 2 > b.length) return { tls: false };
  const end = p + 2 + b.readUInt16BE(p);
  if (end > b.length) return { tls: false };
  p += 2;
  const out: { tls: true; serverName?: string; alpn?: string[] } = { tls: true };
  while (p + 4 <= end) {
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    const ext = b.subarray(p + 4, p + 4 + len);
    p += 4 + len;
    if (type === EXT_SERVER_NAME) {
      if (ext.length < 2) return { tls: false };
      let q = 2;
      const listEnd = Math.min(ext.length, 2 + ext.readUInt16BE(0));
      while (q + 3 <= listEnd) {
        const kind = ext[q]!;
        const nameLen = ext.readUInt16BE(q + 1);
        const name = ext.subarray(q + 3, q + 3 + nameLen);
        q += 3 + nameLen;
        if (kind === HOST_NAME) {
          out.serverName = name.toString('latin1').toLowerCase();
          break;
        }
      }
    } else if (type === EXT_ALPN && ext.length >= 2) {
      const alpn: string[] = [];
      const listEnd = Math.min(ext.length, 2 + ext.readUInt16BE(0));
      let q = 2;
      while (q + 1 <= listEnd) {
        const n = ext[q]!;
        alpn.push(ext.subarray(q + 1, q + 1 + n).toString('latin1'));
        q += 1 + n;
      }
      out.alpn = alpn;
    }
  }
  return out;
}

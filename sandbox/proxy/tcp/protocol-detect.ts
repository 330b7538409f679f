/**
 * TCP or HTTP? Istio's protocol detection for a port without a protocol (Envoy's http_inspector
 * listener filter): a connection whose first bytes are an HTTP/1.x request line (a known method,
 * a target, `HTTP/1.0` or `HTTP/1.1`) or the HTTP/2 connection preface is HTTP; anything else is
 * opaque TCP. Decided on the first bytes the client sends; a client that sends nothing first
 * (server-first protocols: MySQL, SMTP) gets no decision until Istio's `protocolDetectionTimeout`,
 * which is 0s by default (no timeout: it waits) — such ports must be declared `tcp`.
 *
 * This is the TCP-vs-HTTP decision only; which HTTP codec (HTTP/1.1 or h2c) serves an HTTP
 * connection is the codec sniffer's (sandbox/proxy/codec-sniffer.ts).
 */

export type DetectedProtocol = 'http' | 'tcp';

/** the HTTP/2 client connection preface (RFC 9113 3.4) */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** request methods http_inspector's parser knows (llhttp's, RFC 9110 and WebDAV) */
const METHODS = [
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH',
  'COPY', 'LOCK', 'MKCOL', 'MOVE', 'PROPFIND', 'PROPPATCH', 'SEARCH', 'UNLOCK', 'BIND', 'REBIND', 'UNBIND', 'ACL',
  'REPORT', 'MKACTIVITY', 'CHECKOUT', 'MERGE', 'M-SEARCH', 'NOTIFY', 'SUBSCRIBE', 'UNSUBSCRIBE', 'PURGE', 'MKCALENDAR', 'LINK', 'UNLINK', 'QUERY',
];
const LONGEST_METHOD = Math.max(...METHODS.map((m) => m.length));

/** Envoy's http_inspector gives up after this many bytes without a complete request line */
export const MAX_INSPECT_BYTES = 64 * 1024;

const REQUEST_LINE = /^[A-Z-]+ [^ \r\n]+ HTTP\/1\.[01]$/;

/** `undefined`: not decided yet, more bytes are needed */
export function detectProtocol(data: Buffer): DetectedProtocol | undefined {
  if (data.length === 0) return undefined;
  // the HTTP/2 preface, or a prefix of it so far
  const n = Math.min(data.length, H2_PREFACE.length);
  if (data.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) return n === H2_PREFACE.length ? 'http' : undefined;
  // HTTP/1.x: the method token first
  const space = data.indexOf(0x20);
  const token = data.subarray(0, space < 0 ? Math.min(data.length, LONGEST_METHOD + 1) : space).toString('latin1');
  if (space < 0) {
    if (!METHODS.some((m) => m.startsWith(token))) return 'tcp';
    return token.length > LONGEST_METHOD ? 'tcp' : undefined;
  }
  if (!METHODS.includes(token)) return 'tcp';
  const eol = data.indexOf('\r\n', space, 'latin1');
  if (eol < 0) {
    if (data.indexOf(0x0a, space) >= 0) return 'tcp';
    return data.length >= MAX_INSPECT_BYTES ? 'tcp' : undefined;
  }
  return REQUEST_LINE.test(data.subarray(0, eol).toString('latin1')) ? 'http' : 'tcp';
}

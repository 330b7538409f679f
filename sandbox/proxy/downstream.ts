/**
 * The downstream request and response, whichever codec carries them: an HTTP/1.1 exchange
 * (IncomingMessage / ServerResponse) or an HTTP/2 stream (Node's compatibility API,
 * Http2ServerRequest / Http2ServerResponse). The connection manager, the filters and the router
 * use the common part; what differs (pseudo-headers, resets, connection-level headers, a
 * headers-only reply) is here.
 *
 * As in Envoy, an HTTP/2 request's `:authority` is its Host and pseudo-headers are never
 * headers: `normalizeH2Request` gives the request the header map an HTTP/1.1 request would have
 * (`host` from `:authority`), so route matching, header operations and forwarding are the same
 * for both; the pseudo-headers stay readable as `method`, `url`, `authority` and `scheme`.
 */
import { resetConnection } from './reset-connection.js';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { Socket } from 'node:net';

export type DownstreamRequest = IncomingMessage | http2.Http2ServerRequest;
export type DownstreamResponse = ServerResponse | http2.Http2ServerResponse;

const kNormalized = Symbol('meshbox.h2Normalized');

/** is this request an HTTP/2 stream? */
export function isHttp2(req: DownstreamRequest): req is http2.Http2ServerRequest {
  return req.httpVersionMajor === 2;
}

/**
 * Envoy's %PROTOCOL%: `HTTP/1.1`, `HTTP/1.0`, `HTTP/2`.
 */
export function protocolOf(req: DownstreamRequest | undefined): string {
  if (!req) return 'HTTP/1.1';
  return isHttp2(req) ? 'HTTP/2' : `HTTP/${req.httpVersion}`;
}

/**
 * The request's headers without pseudo-headers, with `host` set from `:authority` (an HTTP/2
 * client may send both; `:authority` wins, RFC 9113 §8.3.1). Done once per stream, in place.
 */
export function normalizeH2Request(req: http2.Http2ServerRequest): void {
  const marked = req as http2.Http2ServerRequest & { [kNormalized]?: boolean };
  if (marked[kNormalized]) return;
  marked[kNormalized] = true;
  const raw = req.headers as IncomingHttpHeaders;
  const headers: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k.charCodeAt(0) === 58 /* ':' */) continue;
    headers[k] = v;
  }
  const authority = raw[':authority'];
  if (typeof authority === 'string' && authority.length > 0) headers.host = authority;
  Object.defineProperty(req, 'headers', { value: headers, configurable: true, enumerable: true });
}

/** removes HTTP/2 pseudo-headers (`:status`) from a header map, in place */
export function dropPseudoHeaders<T extends Record<string, unknown>>(headers: T): T {
  for (const k of Object.keys(headers)) if (k.charCodeAt(0) === 58) delete headers[k];
  return headers;
}

/**
 * The connection's socket, for addresses and TLS state. For HTTP/2, Node hands out a proxy of
 * the session's socket; reading properties through it is fine, closing it would close every
 * stream of the connection.
 */
export function downstreamSocket(req: DownstreamRequest): Socket {
  return req.socket as Socket;
}

/**
 * The proxy resets the client's stream: HTTP/1.1 closes the connection (`rst`: with a TCP RST);
 * HTTP/2 resets this stream only (RST_STREAM), every other stream of the connection carries on.
 * Envoy's HTTP/2 codec resets with NO_ERROR (its reasonToReset); meshbox's own reset fault
 * (`rst`) uses INTERNAL_ERROR, the stream-level counterpart of a TCP RST.
 */
export function resetStream(req: DownstreamRequest, res: DownstreamResponse, how: 'close' | 'rst'): void {
  if (isHttp2(req)) {
    const stream = (res as http2.Http2ServerResponse).stream;
    if (!stream.destroyed) stream.close(how === 'rst' ? http2.constants.NGHTTP2_INTERNAL_ERROR : http2.constants.NGHTTP2_NO_ERROR);
    return;
  }
  if (how === 'rst') resetConnection(req.socket);
  else res.destroy();
}

/**
 * Did the response go out whole? HTTP/1.1: `writableFinished`. HTTP/2: Node's compatibility
 * response reports `writableFinished` once the stream closed, even when the client reset it, so
 * the response must have been ended and the stream closed without a reset code.
 */
export function responseFinished(req: DownstreamRequest, res: DownstreamResponse): boolean {
  if (!isHttp2(req)) return res.writableFinished;
  const h2res = res as http2.Http2ServerResponse;
  const code = h2res.stream.rstCode;
  return h2res.writableEnded && (code === undefined || code === http2.constants.NGHTTP2_NO_ERROR);
}

/** headers only an HTTP/1.1 connection can carry (`connection: close`); HTTP/2 forbids them */
const CONNECTION_HEADERS = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'];

/**
 * Sends a complete response. On HTTP/2 a response without a body is one HEADERS frame with
 * END_STREAM (a gRPC trailers-only response must be exactly that), and connection-level headers
 * are left out.
 */
export function sendResponse(req: DownstreamRequest, res: DownstreamResponse, status: number, headers: OutgoingHttpHeaders, body?: Buffer): void {
  if (!isHttp2(req)) {
    (res as ServerResponse).writeHead(status, headers);
    (res as ServerResponse).end(body);
    return;
  }
  const h2res = res as http2.Http2ServerResponse;
  for (const h of CONNECTION_HEADERS) delete headers[h];
  if (body && body.length > 0) {
    h2res.writeHead(status, headers);
    h2res.end(body);
    return;
  }
  // statusCode + headers then end(): Node sends the head with END_STREAM (writeHead would send it alone)
  h2res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) h2res.setHeader(k, v as string | number | readonly string[]);
  h2res.end();
}

/** writes a response head (the body follows), leaving out what HTTP/2 cannot carry */
export function writeHead(req: DownstreamRequest, res: DownstreamResponse, status: number, headers: OutgoingHttpHeaders): void {
  if (isHttp2(req)) for (const h of CONNECTION_HEADERS) delete headers[h];
  (res as ServerResponse).writeHead(status, headers);
}

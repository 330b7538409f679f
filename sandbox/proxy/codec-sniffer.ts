/**
 * The downstream codec, picked per connection as Envoy's HTTP connection manager does with
 * `codec_type: AUTO`: a TLS connection whose ALPN chose `h2` (or Istio's `istio-h2`) is HTTP/2;
 * otherwise the first bytes decide: the HTTP/2 client connection preface
 * (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, RFC 9113 §3.4: h2c with prior knowledge) selects HTTP/2,
 * anything else HTTP/1.1. Every HTTP listener (outbound, per-service outbound, inbound, gateway)
 * serves both on one port.
 *
 * The bytes read to decide are put back (`unshift`) before the socket is handed to a codec, so
 * nothing is lost; Node's HTTP/1 parser and its HTTP/2 session both read them first.
 *
 * `sniffFirstBytes` is the general part, reusable by other detectors (HTTP vs TCP on an unnamed
 * port): it reads until a classifier decides, the peer goes quiet, or enough bytes arrived.
 */
import { peek } from './tcp/first-bytes.js';
import type http from 'node:http';
import type http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** RFC 9113 §3.4: the client connection preface's fixed part */
export const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** ALPN values that mean HTTP/2: the standard one, and Istio's in-mesh one (its alpn filter sets `istio-h2`) */
export const H2_ALPN = new Set(['h2', 'istio-h2']);

export type Codec = 'http1' | 'http2';

/** what the preface test can find: HTTP/1.1, HTTP/2, or the magic followed by something that is not a SETTINGS frame */
export type PrefaceVerdict = Codec | 'bad-preface';

/** the magic and the 9-byte header of the SETTINGS frame that must follow it */
const PREFACE_WITH_SETTINGS = HTTP2_PREFACE.length + 9;
const SETTINGS = 0x4;

/** what a classifier says of the bytes read so far: a verdict, or `more` to read on */
export type Classification<V> = V | 'more';

/**
 * The preface test: `http2` once all 24 bytes match, `http1` as soon as one byte differs, `more`
 * while what arrived is a strict prefix of the preface (a client may split it across packets).
 */
export function classifyPreface(bytes: Buffer): Classification<Codec> {
  const n = Math.min(bytes.length, HTTP2_PREFACE.length);
  if (bytes.subarray(0, n).compare(HTTP2_PREFACE, 0, n) !== 0) return 'http1';
  return n === HTTP2_PREFACE.length ? 'http2' : 'more';
}

/**
 * The whole client preface (RFC 9113 §3.4): the magic, then a SETTINGS frame (type 4, stream 0,
 * a length that is a multiple of 6). The magic followed by anything else is `bad-preface`, a
 * connection error of type PROTOCOL_ERROR.
 */
export function classifyClientPreface(bytes: Buffer): Classification<PrefaceVerdict> {
  const magic = classifyPreface(bytes);
  if (magic !== 'http2') return magic;
  if (bytes.length < PREFACE_WITH_SETTINGS) return 'more';
  const h = bytes.subarray(HTTP2_PREFACE.length, PREFACE_WITH_SETTINGS);
  const length = h.readUIntBE(0, 3);
  const ok = h[3] === SETTINGS && (h.readUInt32BE(5) & 0x7fffffff) === 0 && length % 6 === 0 && (h[4]! & 0x1) === 0;
  return ok ? 'http2' : 'bad-preface';
}

/** a GOAWAY frame (RFC 9113 §6.8): last stream 0, the given error code */
export function goawayFrame(errorCode: number): Buffer {
  const f = Buffer.alloc(17);
  f.writeUIntBE(8, 0, 3);
  f[3] = 0x7;
  f.writeUInt32BE(0, 5);
  f.writeUInt32BE(0, 9);
  f.writeUInt32BE(errorCode, 13);
  return f;
}

/** RFC 9113 §7 */
export const H2_PROTOCOL_ERROR = 0x1;

export interface SniffOptions<V> {
  /** decides from the bytes read so far */
  classify(bytes: Buffer): Classification<V>;
  /** the verdict when the peer sends nothing (or not enough) within `timeoutMs`, or closes */
  fallback: V;
  /** 0: no timeout (the listener passes its header or idle timeout; both off means wait) */
  timeoutMs: number;
  /** stop reading after this many bytes (the classifier is then asked to decide with `fallback`) */
  maxBytes?: number;
}

/**
 * Reads the first bytes of `socket` until `classify` decides, then puts them back and resolves
 * with the verdict; the socket is left paused, with no data listener of its own, for whoever
 * takes it next. A peer that goes away before deciding resolves with `fallback`; the caller's
 * codec then sees a closed socket.
 */
export async function sniffFirstBytes<V>(socket: Socket, opts: SniffOptions<V>): Promise<V> {
  // the same first-bytes reader as the TCP listener filters (./tcp/first-bytes.ts)
  const outcome = await peek<V>(
    socket,
    (read) => {
      const verdict = opts.classify(read);
      if (verdict !== 'more') return verdict;
      return opts.maxBytes !== undefined && read.length >= opts.maxBytes ? opts.fallback : undefined;
    },
    { timeoutMs: opts.timeoutMs },
  );
  if (outcome.data.length > 0) socket.unshift(outcome.data);
  return outcome.kind === 'decided' ? outcome.value : opts.fallback;
}

/** counts of the codecs chosen and of connections the HTTP/2 codec rejected (Envoy's names) */
export interface CodecStats {
  downstream_cx_http1_total: number;
  downstream_cx_http2_total: number;
  /** connections closed for a protocol error (a malformed frame, a bad preface: GOAWAY PROTOCOL_ERROR) */
  downstream_cx_protocol_error: number;
  /** streams the HTTP/2 codec reset for a protocol error */
  'http2.rx_messaging_error': number;
}

export function newCodecStats(): CodecStats {
  return { downstream_cx_http1_total: 0, downstream_cx_http2_total: 0, downstream_cx_protocol_error: 0, 'http2.rx_messaging_error': 0 };
}

export interface CodecDispatchOptions {
  /** how long a connection may stay silent before it goes to the HTTP/1 codec (whose own header timeout then applies) */
  firstByteTimeoutMs: number;
  stats: CodecStats;
}

/**
 * Puts the codec choice in front of `server`'s HTTP/1 codec: the server's own `connection`
 * listener (registered when it was created) is replaced, in first place, by a dispatcher that
 * hands each connection to `h2` or to the HTTP/1 codec. Whatever is installed later in front of
 * the first listener (the inbound mTLS sniffer, ../security/tls-inbound.ts) calls the
 * dispatcher with the plaintext or the decrypted socket. Returns the dispatcher.
 */
export function installCodecDispatch(server: http.Server, h2: http2.Http2Server, opts: CodecDispatchOptions): (socket: Socket) => void {
  const [http1, ...others] = server.listeners('connection') as Array<(s: Socket) => void>;
  server.removeAllListeners('connection');
  const toHttp1 = (socket: Socket): void => {
    opts.stats.downstream_cx_http1_total++;
    http1?.call(server, socket);
    socket.resume();
  };
  const toHttp2 = (socket: Socket): void => {
    opts.stats.downstream_cx_http2_total++;
    // Node's HTTP/2 server sends a TLS socket without `h2` in ALPN away ('unknownProtocol');
    // a peer that sent the preface anyway speaks HTTP/2 (Envoy's AUTO codec sniffs it too)
    const tlsSocket = socket as TLSSocket;
    if (tlsSocket.encrypted && !H2_ALPN.has(String(tlsSocket.alpnProtocol))) {
      Object.defineProperty(tlsSocket, 'alpnProtocol', { value: 'h2', configurable: true });
    }
    h2.emit('connection', socket);
  };
  const dispatch = (socket: Socket): void => {
    const alpn = (socket as TLSSocket).alpnProtocol;
    if (typeof alpn === 'string' && H2_ALPN.has(alpn)) {
      toHttp2(socket);
      return;
    }
    // a peer that goes away before its first byte (the codec handles errors after that)
    const onError = (): void => {
      socket.destroy();
    };
    socket.on('error', onError);
    void sniffFirstBytes<PrefaceVerdict>(socket, { classify: classifyClientPreface, fallback: 'http1', timeoutMs: opts.firstByteTimeoutMs }).then((codec) => {
      socket.off('error', onError);
      if (socket.destroyed) return;
      if (codec === 'http2') toHttp2(socket);
      else if (codec === 'http1') toHttp1(socket);
      else {
        // the magic without its SETTINGS frame: GOAWAY PROTOCOL_ERROR and close, as nghttp2 would
        opts.stats.downstream_cx_protocol_error++;
        socket.on('error', () => socket.destroy());
        socket.end(goawayFrame(H2_PROTOCOL_ERROR));
        const timer = setTimeout(() => socket.destroy(), 1_000);
        timer.unref();
        socket.once('close', () => clearTimeout(timer));
        socket.resume();
      }
    });
  };
  server.on('connection', dispatch);
  for (const l of others) server.on('connection', l);
  return dispatch;
}

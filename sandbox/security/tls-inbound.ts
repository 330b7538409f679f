/**
 * The inbound listener's transport, per PeerAuthentication (Envoy's inbound filter chains with a
 * TLS inspector): the first byte of each new connection decides.
 *
 * - a TLS ClientHello (0x16) goes to a TLS server with the workload's certificate that requires a
 *   client certificate signed by the sandbox root (mTLS), then to the port's codec (HTTP, TCP
 *   proxy, or detected); under PERMISSIVE only one that offers an `istio` ALPN protocol (another
 *   sidecar): TLS without one is the app's own (a `tls` port's client), passed on like plaintext;
 *   HTTP connections then go to the HTTP codec: HTTP/2 when ALPN chose `istio-h2` or `h2` (or the
 *   decrypted bytes start with the HTTP/2 preface), else HTTP/1.1 (../proxy/codec-sniffer.ts);
 * - anything else is plaintext HTTP: served under PERMISSIVE and DISABLE, and under STRICT the
 *   connection is reset, as Envoy does when no filter chain matches (curl: exit 56, status 000).
 *
 * A client sidecar's TCP proxy negotiates ALPN `istio-peer-exchange` and starts the stream with
 * its metadata preamble (sandbox/proxy/tcp/peer-exchange.ts): it is read and removed here, so the
 * app never sees it and the TCP proxy knows the peer workload.
 *
 * The bytes peeked are put back before the socket is handed on, so nothing is lost. The mode is
 * read from the current snapshot for every connection: a PeerAuthentication change applies to the
 * next connection without reopening the listener. A certificate rotation replaces the server's
 * secure context for new handshakes; connections already open keep theirs.
 */
import type http from 'node:http';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { ListenerConfig } from '../control/snapshot.js';
import { uriSans } from './identity.js';
import type { PeerCertificateInfo } from './mtls-headers.js';
import type { InboundMtlsConfig } from './tls-settings.js';
import { MESH_SERVER_ALPN, type TlsSecretStore } from './tls-secrets.js';
import { peek } from '../proxy/tcp/first-bytes.js';
import { decodePeerPreamble, MX_ALPN } from '../proxy/tcp/peer-exchange.js';
import { readClientHello } from '../proxy/tcp/client-hello.js';

const TLS_HANDSHAKE = 0x16;

/** what the connection manager learns about a downstream connection */
export interface DownstreamSecurity {
  security: 'mutual_tls' | 'none';
  /** the client's certificate (mTLS only) */
  peer?: PeerCertificateInfo;
  /** the SPIFFE id this sidecar presented */
  localIdentity?: string;
  /** the calling proxy's id, from its metadata exchange preamble (TCP over mTLS, ALPN istio-peer-exchange) */
  peerProxyId?: string;
}

const kSecurity = Symbol('meshbox.downstreamSecurity');
type Marked = Socket & { [kSecurity]?: DownstreamSecurity };

const NONE: DownstreamSecurity = { security: 'none' };

export function downstreamSecurity(socket: Socket | null | undefined): DownstreamSecurity {
  return (socket as Marked | null | undefined)?.[kSecurity] ?? NONE;
}

export interface InboundMtlsDeps {
  secrets: TlsSecretStore;
  /** the listener's current PeerAuthentication (from the current snapshot) */
  mtls(listenerName: string): InboundMtlsConfig | undefined;
  /** how long a connection may stay silent before it is handed to the HTTP codec (its own timeouts then apply) */
  firstByteTimeoutMs: number;
  /** counts, for stats and tests */
  stats?: InboundTlsStats;
}

export interface InboundTlsStats {
  handshakes: number;
  plaintextRefused: number;
  handshakeFailures: number;
}

export class InboundMtls {
  readonly stats: InboundTlsStats;
  constructor(private readonly deps: InboundMtlsDeps) {
    this.stats = deps.stats ?? { handshakes: 0, plaintextRefused: 0, handshakeFailures: 0 };
  }

  /**
   * puts the sniffer in front of `server`'s HTTP codec; `next` gets the connection once its
   * transport is decided (plaintext, or mTLS terminated): by default the HTTP codec
   */
  install(server: http.Server, config: ListenerConfig, next?: (s: Socket, toHttp: (s: Socket) => void) => void): void {
    // the HTTP codec's own listener comes first (http.Server registers it when created); the
    // others (the listener's socket tracking) see the raw socket at once, so closing the listener
    // also ends connections still in their handshake
    const [codec, ...others] = server.listeners('connection') as Array<(s: Socket) => void>;
    server.removeAllListeners('connection');
    // (a socket whose first bytes were peeked is paused: the codec resumes it)
    const httpCodec = (s: Socket): void => {
      codec?.call(server, s);
      s.resume();
    };
    const toHttp = next ? (s: Socket): void => next(s, httpCodec) : httpCodec;
    let tlsServer: tls.Server | undefined;
    let tlsSerial: string | undefined;
    const tlsServerFor = (): tls.Server | undefined => {
      const secret = this.deps.secrets.get(config.proxyId);
      if (!secret) return undefined;
      const options = { key: secret.keyPem, cert: secret.certChainPem, ca: secret.rootCertPem, minVersion: 'TLSv1.2' as const };
      if (!tlsServer) {
        tlsServer = tls.createServer({ ...options, requestCert: true, rejectUnauthorized: true, ALPNProtocols: MESH_SERVER_ALPN });
        tlsServer.on('secureConnection', (ts: tls.TLSSocket) => {
          this.stats.handshakes++;
          const cert = ts.getPeerX509Certificate();
          const peer: PeerCertificateInfo | undefined = cert
            ? { raw: cert.raw, uris: uriSans(cert.subjectAltName), dns: dnsSans(cert.subjectAltName), subject: cert.subject ?? '' }
            : undefined;
          const security: DownstreamSecurity = { security: 'mutual_tls', peer, localIdentity: this.deps.secrets.get(config.proxyId)?.identity };
          (ts as Marked)[kSecurity] = security;
          if (ts.alpnProtocol !== MX_ALPN) {
            toHttp(ts);
            return;
          }
          // the calling sidecar's metadata preamble comes first: read it, hand on what follows
          ts.on('error', () => ts.destroy());
          void peek(ts, (d) => decodePeerPreamble(d), { timeoutMs: this.deps.firstByteTimeoutMs }).then((o) => {
            if (o.kind === 'decided' && o.value !== 'invalid') {
              if (o.value.id) security.peerProxyId = o.value.id;
              const rest = o.data.subarray(o.value.length);
              if (rest.length > 0) ts.unshift(rest);
            } else if (o.kind === 'ended') {
              ts.destroy();
              return;
            } else if (o.data.length > 0) {
              ts.unshift(o.data);
            }
            toHttp(ts);
          });
        });
        // a client without a valid certificate: the handshake fails and the connection closes
        tlsServer.on('tlsClientError', (_err: Error, s: tls.TLSSocket) => {
          this.stats.handshakeFailures++;
          s.destroy();
        });
      } else if (tlsSerial !== secret.serial) {
        tlsServer.setSecureContext(options);
      }
      tlsSerial = secret.serial;
      return tlsServer;
    };
    server.on('connection', (socket: Socket) => {
      for (const l of others) l.call(server, socket);
      socket.setNoDelay(true);
      // a peer that goes away before its first byte
      socket.on('error', () => socket.destroy());
      // DISABLE: plaintext only, nothing to inspect (a server-first protocol is not held up)
      if ((this.deps.mtls(config.name)?.mode ?? 'PERMISSIVE') === 'DISABLE') {
        toHttp(socket);
        return;
      }
      void peek(socket, (d) => (d[0] === TLS_HANDSHAKE ? readClientHello(d) : { tls: false as const }), { timeoutMs: this.deps.firstByteTimeoutMs }).then((o) => {
        if (socket.destroyed) return;
        if (o.kind === 'ended') {
          // closed before saying anything: nothing to serve
          socket.destroy();
          return;
        }
        if (o.data.length > 0) socket.unshift(o.data);
        const mode = this.deps.mtls(config.name)?.mode ?? 'PERMISSIVE';
        const hello = o.kind === 'decided' ? o.value : { tls: false as const };
        // Istio's inbound filter chains: STRICT terminates every TLS connection as mTLS;
        // PERMISSIVE only a ClientHello offering an `istio` ALPN protocol (another sidecar), TLS
        // without it being the app's own, passed through as plaintext would be
        const mesh = hello.tls && (mode === 'STRICT' || (hello.alpn ?? []).some((p) => p === 'istio' || p.startsWith('istio-')));
        if (mesh && mode !== 'DISABLE') {
          const ts = tlsServerFor();
          if (!ts) {
            socket.resetAndDestroy();
            return;
          }
          // the TLS socket reads what was peeked from the socket's buffer, then the handle itself
          ts.emit('connection', socket);
          return;
        }
        if (mode === 'STRICT') {
          this.stats.plaintextRefused++;
          socket.resetAndDestroy();
          return;
        }
        toHttp(socket);
      });
    });
  }
}

function dnsSans(subjectAltName: string | undefined): string[] {
  return (subjectAltName ?? '')
    .split(/,\s*/)
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
}

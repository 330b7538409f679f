/**
 * The TCP proxy's listener filters and route matching, without sockets: protocol detection
 * (HTTP or TCP by the first bytes), the ClientHello's SNI and ALPN, the peer preamble, and
 * tcp[]/tls[] route selection.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { detectProtocol, MAX_INSPECT_BYTES } from '../../../sandbox/proxy/tcp/protocol-detect.js';
import { readClientHello } from '../../../sandbox/proxy/tcp/client-hello.js';
import { decodePeerPreamble, encodePeerPreamble } from '../../../sandbox/proxy/tcp/peer-exchange.js';
import { L4RouteTable, sniMatches } from '../../../sandbox/proxy/tcp/l4-route-table.js';
import { Rng } from '../../../sandbox/rng.js';
import type { TcpRouteEntryConfig } from '../../../sandbox/control/snapshot.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('protocol detection (http_inspector)', () => {
  it('an HTTP/1.x request line or the HTTP/2 preface is HTTP; other bytes are TCP', () => {
    expect(detectProtocol(b('GET / HTTP/1.1\r\nhost: x\r\n\r\n'))).toBe('http');
    expect(detectProtocol(b('POST /api/v1/things?x=1 HTTP/1.0\r\n'))).toBe('http');
    expect(detectProtocol(b('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'))).toBe('http');
    expect(detectProtocol(b('CONNECT a:443 HTTP/1.1\r\n'))).toBe('http');
    expect(detectProtocol(Buffer.from([0x00, 0x01, 0x02]))).toBe('tcp');
    expect(detectProtocol(b('hello\n'))).toBe('tcp');
    expect(detectProtocol(b('GET / HTTP/2.0\r\n'))).toBe('tcp');
    expect(detectProtocol(b('GET /\r\n'))).toBe('tcp');
    expect(detectProtocol(b('get / HTTP/1.1\r\n'))).toBe('tcp');
    expect(detectProtocol(Buffer.from([0x16, 0x03, 0x01]))).toBe('tcp');
    expect(detectProtocol(b('*1\r\n$4\r\nPING\r\n'))).toBe('tcp');
  });

  it('waits for more bytes while they could still be HTTP', () => {
    expect(detectProtocol(Buffer.alloc(0))).toBeUndefined();
    expect(detectProtocol(b('GE'))).toBeUndefined();
    expect(detectProtocol(b('GET /long/path'))).toBeUndefined();
    expect(detectProtocol(b('PRI * HT'))).toBeUndefined();
    expect(detectProtocol(b('OPTIONSX'))).toBe('tcp');
    expect(detectProtocol(b(`GET /${'a'.repeat(MAX_INSPECT_BYTES)}`))).toBe('tcp');
  });
});

/** the ClientHello Node's TLS client writes */
async function capture(opts: tls.ConnectionOptions): Promise<Buffer> {
  let got!: (b: Buffer) => void;
  const hello = new Promise<Buffer>((r) => (got = r));
  const server = net.createServer((s) => s.once('data', (d: Buffer) => {
    got(d);
    s.destroy();
  }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const c = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, rejectUnauthorized: false, ...opts });
  c.on('error', () => undefined);
  const data = await hello;
  c.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return data;
}

describe('ClientHello (tls_inspector)', () => {
  it('reads the SNI and the ALPN list without terminating; incomplete waits; other bytes are not TLS', async () => {
    const hello = await capture({ servername: 'Shop.Example.com', ALPNProtocols: ['istio-peer-exchange', 'istio'] });
    expect(readClientHello(hello)).toEqual({ tls: true, serverName: 'shop.example.com', alpn: ['istio-peer-exchange', 'istio'] });
    expect(readClientHello(hello.subarray(0, 40))).toBeUndefined();
    expect(readClientHello(b('GET / HTTP/1.1\r\n'))).toEqual({ tls: false });
    const bare = await capture({});
    expect(readClientHello(bare)).toEqual({ tls: true });
  });

  it('a ClientHello split over two TLS records is reassembled', async () => {
    const hello = await capture({ servername: 'a.example.com' });
    const body = hello.subarray(5);
    const first = body.subarray(0, 60);
    const rest = body.subarray(60);
    const record = (p: Buffer): Buffer => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, p.length >> 8, p.length & 0xff]), p]);
    expect(readClientHello(Buffer.concat([record(first), record(rest)]))).toMatchObject({ tls: true, serverName: 'a.example.com' });
  });
});

describe('peer preamble (metadata exchange)', () => {
  it('round trips the proxy id; anything else is invalid; a partial one waits', () => {
    const p = encodePeerPreamble('caller-v1-1');
    expect(decodePeerPreamble(Buffer.concat([p, b('rest')]))).toEqual({ id: 'caller-v1-1', length: p.length });
    expect(decodePeerPreamble(p.subarray(0, 6))).toBeUndefined();
    expect(decodePeerPreamble(b('GET / HTTP/1.1'))).toBe('invalid');
  });
});

const route = (list: 'tcp' | 'tls', match: TcpRouteEntryConfig['match'], subset: string, weight = 100): TcpRouteEntryConfig => ({
  origin: { resource: 'VirtualService default/x', index: 0 },
  list,
  match,
  destinations: [{ clusterKey: `outbound|9000|${subset}|x`, clusterName: `outbound|9000|${subset}|x`, host: 'x', subset, port: 9000, weight }],
});

describe('tcp[]/tls[] route selection', () => {
  it('SNI names: exact, and *.suffix for any deeper name', () => {
    expect(sniMatches('a.example.com', 'a.example.com')).toBe(true);
    expect(sniMatches('*.example.com', 'a.b.example.com')).toBe(true);
    expect(sniMatches('*.example.com', 'example.com')).toBe(false);
    expect(sniMatches('a.example.com', undefined)).toBe(false);
  });

  it('tls routes first, by SNI; then tcp routes by destination subnet; the first match wins', () => {
    const t = new L4RouteTable({
      tlsRoutes: [route('tls', [{ sniHosts: ['a.example.com'] }], 'a')],
      tcpRoutes: [route('tcp', [{ destinationSubnets: ['10.0.0.0/8'] }], 'ten'), route('tcp', [], 'rest')],
    });
    const pick = (c: { localAddress: string; sni?: string }): string | undefined => {
      const s = t.select({ remoteAddress: '127.0.0.1', ...c }, new Rng(1));
      return 'route' in s ? s.destination.subset : undefined;
    };
    expect(pick({ localAddress: '127.0.0.1', sni: 'a.example.com' })).toBe('a');
    expect(pick({ localAddress: '10.1.2.3', sni: 'b.example.com' })).toBe('ten');
    expect(pick({ localAddress: '127.0.0.1' })).toBe('rest');
    expect(new L4RouteTable({ tcpRoutes: [route('tcp', [{ destinationSubnets: ['10.0.0.0/8'] }], 'ten')] }).select({ localAddress: '127.0.0.1', remoteAddress: '127.0.0.1' }, new Rng(1))).toEqual({
      why: ['no tcp/tls route matches the connection to 127.0.0.1'],
    });
  });

  it('weighted destinations share connections by weight (seeded)', () => {
    const r: TcpRouteEntryConfig = { ...route('tcp', [], 'v1', 80), destinations: [...route('tcp', [], 'v1', 80).destinations, ...route('tcp', [], 'v2', 20).destinations] };
    const t = new L4RouteTable({ tcpRoutes: [r] });
    const rng = new Rng(42);
    let v1 = 0;
    for (let i = 0; i < 2000; i++) {
      const s = t.select({ localAddress: '127.0.0.1', remoteAddress: '127.0.0.1' }, rng);
      if ('route' in s && s.destination.subset === 'v1') v1++;
    }
    expect(v1 / 2000).toBeGreaterThan(0.77);
    expect(v1 / 2000).toBeLessThan(0.83);
  });
});

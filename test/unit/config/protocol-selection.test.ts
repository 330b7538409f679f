import { describe, expect, it } from 'vitest';
import { codecOf, selectProtocol, upstreamIsHttp2 } from '../../../sandbox/config/protocol-selection.js';

describe('protocol selection (Istio: appProtocol, else the port name prefix, else detected)', () => {
  it.each([
    [{ name: 'http' }, 'http'],
    [{ name: 'http-web' }, 'http'],
    [{ name: 'http2' }, 'http2'],
    [{ name: 'grpc-api' }, 'grpc'],
    [{ name: 'grpc-web' }, 'grpc-web'],
    [{ name: 'grpc-web-ui' }, 'grpc-web'],
    [{ name: 'tcp-db' }, 'tcp'],
    [{ name: 'tls' }, 'tls'],
    [{ name: 'mongo' }, 'mongo'],
    [{ name: 'redis-cache' }, 'redis'],
    [{ name: 'web' }, 'unknown'],
    [{}, 'unknown'],
    [{ name: 'http', appProtocol: 'grpc' }, 'grpc'],
    [{ name: 'tcp', appProtocol: 'kubernetes.io/h2c' }, 'http2'],
    [{ name: 'grpc', appProtocol: 'custom' }, 'grpc'],
    [{ name: 'HTTP2' }, 'http2'],
  ])('%o is %s', (port, protocol) => {
    expect(selectProtocol(port).protocol).toBe(protocol);
  });

  it('says what decided it', () => {
    expect(selectProtocol({ name: 'grpc-api' }).source).toBe('port name grpc-api');
    expect(selectProtocol({ appProtocol: 'http2' }).source).toBe('appProtocol http2');
    expect(selectProtocol({ name: 'web' }).source).toMatch(/no protocol prefix: detected per connection/);
  });

  it('maps protocols onto codecs', () => {
    expect(codecOf('grpc')).toBe('http');
    expect(codecOf('redis')).toBe('tcp');
    expect(codecOf('unknown')).toBe('sniff');
    expect(codecOf('udp')).toBe('none');
    expect(upstreamIsHttp2('grpc')).toBe(true);
    expect(upstreamIsHttp2('http')).toBe(false);
    expect(upstreamIsHttp2(undefined)).toBe(false);
  });
});

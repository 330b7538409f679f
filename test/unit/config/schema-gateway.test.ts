import { describe, expect, it } from 'vitest';
import { doc, expectOne, expectValid } from './helpers.js';

const gw = (spec: string): string => doc('Gateway', spec);

const server = (port: string, extra = ''): string => `selector: {istio: ingressgateway}\nservers:\n- port: ${port}\n  hosts: ["*"]${extra}`;

describe('Gateway schema', () => {
  it('accepts servers with any protocol case, namespace-prefixed and wildcard hosts', () => {
    const r = expectValid(
      gw(`
selector: {istio: ingressgateway}
servers:
- port: {number: 80, name: http, protocol: HTTP}
  hosts: ["caller.example.com", "*.example.com", "prod/*", "./foo.example.com", "*/bar.example.com"]
- port: {number: 443, name: https, protocol: https}
  hosts: ["*"]
  tls: {mode: SIMPLE, credentialName: tls-cert, minProtocolVersion: TLSV1_2}
- port: {number: 8443, name: mtls, protocol: HTTPS}
  hosts: ["*"]
  tls: {mode: MUTUAL, serverCertificate: /s.pem, privateKey: /k.pem, caCertificates: /ca.pem}
`),
    );
    expect(r.resources[0]!.kind).toBe('Gateway');
  });

  it('requires servers, each with a port and hosts', () => {
    expectOne(gw('selector: {istio: ingressgateway}'), 'MISSING_FIELD', { at: '5:1', message: 'spec: missing required field `servers`' });
    expectOne(gw('servers: []'), 'EMPTY_VALUE', { atText: 'servers', message: 'spec.servers is an empty list' });
    expectOne(gw('servers:\n- port: {number: 80, name: http, protocol: HTTP}'), 'MISSING_FIELD', { atText: 'port', message: 'spec.servers[0]: missing required field `hosts`' });
    expectOne(gw('servers:\n- hosts: [a.com]'), 'MISSING_FIELD', { atText: 'hosts', message: 'missing required field `port`' });
    expectOne(gw('servers:\n- port: {number: 80, name: http, protocol: HTTP}\n  hosts: []'), 'EMPTY_VALUE', { message: 'spec.servers[0].hosts is an empty list' });
  });

  it('checks the port: number, protocol, name', () => {
    expectOne(gw(server('{number: 0, name: http, protocol: HTTP}')), 'OUT_OF_RANGE', { message: 'between 1 and 65535' });
    expectOne(gw(server('{number: 80, name: http, protocol: HTTP3}')), 'VALUE_NOT_ALLOWED', { atText: 'HTTP3', message: 'is not a protocol a Gateway server supports', hint: 'HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, TCP, TLS' });
    expectOne(gw(server('{number: 80, protocol: HTTP}')), 'MISSING_FIELD', { message: 'missing required field `name`' });
    expectOne(gw(server('{number: 80, name: http, protocol: HTTP, targetPort: 8080}')), 'UNSUPPORTED_VALUE', { atText: 'targetPort' });
  });

  it('rejects duplicate port names across servers', () => {
    const text = gw('servers:\n- port: {number: 80, name: http, protocol: HTTP}\n  hosts: [a.com]\n- port: {number: 81, name: http, protocol: HTTP}\n  hosts: [b.com]');
    expectOne(text, 'DUPLICATE_PORT_NAME', { message: 'port name `http` is already used by spec.servers[0]' });
  });

  it('HTTPS and TLS servers need tls settings, and SIMPLE needs certificates or credentialName', () => {
    expectOne(gw(server('{number: 443, name: https, protocol: HTTPS}')), 'GATEWAY_TLS_REQUIRED', { atText: 'HTTPS', message: 'a HTTPS server needs `tls` settings' });
    expectOne(gw(server('{number: 443, name: https, protocol: HTTPS}', '\n  tls: {mode: SIMPLE, privateKey: /k.pem}')), 'MISSING_FIELD', { message: 'missing required field `serverCertificate`' });
    expectOne(gw(server('{number: 443, name: https, protocol: HTTPS}', '\n  tls: {mode: MUTUAL, serverCertificate: /s.pem, privateKey: /k.pem}')), 'MISSING_FIELD', { message: 'missing required field `caCertificates`' });
    expectValid(gw(server('{number: 443, name: https, protocol: HTTPS}', '\n  tls: {mode: MUTUAL, credentialNames: [a, b]}')));
  });

  it('checks server hosts and selector labels', () => {
    expectOne(gw('servers:\n- port: {number: 80, name: http, protocol: HTTP}\n  hosts: ["a/b/c"]'), 'INVALID_NAME', { atText: '"a/b/c"', message: 'is not a valid gateway host' });
    expectOne(gw('selector: {istio: [x]}\nservers:\n- port: {number: 80, name: http, protocol: HTTP}\n  hosts: ["*"]'), 'WRONG_TYPE', { message: 'spec.selector.istio must be a string' });
  });
});

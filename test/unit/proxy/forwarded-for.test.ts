/**
 * Envoy's edge handling of x-forwarded-for, x-envoy-internal and x-envoy-external-address
 * (use_remote_address: true, with and without trusted hops) and the trusted client address,
 * for addresses a loopback-only test cannot connect from (Envoy's x-forwarded-for examples).
 */
import { describe, expect, it } from 'vitest';
import { applyEdgeForwarding, isInternalAddress, trustedClientAddress } from '../../../sandbox/proxy/forwarded-for.js';
import type { HeaderMap } from '../../../sandbox/proxy/routing/header-ops.js';

describe('isInternalAddress (loopback, RFC 1918, RFC 4193)', () => {
  it.each(['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.0.10', '::ffff:10.0.0.1', 'fc00::1', 'fd12:3456::1'])('%s is internal', (a) => {
    expect(isInternalAddress(a)).toBe(true);
  });
  it.each(['203.0.113.7', '8.8.8.8', '172.15.0.1', '172.32.0.1', '192.169.0.1', '11.0.0.1', '2001:db8::1', 'fe80::1', '::ffff:8.8.8.8', '', 'not-an-ip'])('%s is external', (a) => {
    expect(isInternalAddress(a)).toBe(false);
  });
});

describe('applyEdgeForwarding', () => {
  const run = (headers: HeaderMap, remote: string, hops = 0): HeaderMap => {
    const h = { ...headers };
    applyEdgeForwarding(h, remote, hops);
    return h;
  };

  it('an internal client without XFF: XFF is its address, x-envoy-internal: true', () => {
    expect(run({}, '10.0.0.5')).toEqual({ 'x-forwarded-for': '10.0.0.5', 'x-envoy-internal': 'true', 'x-forwarded-proto': 'http' });
  });

  it("an external client (Envoy's example 1): XFF appended, x-envoy-internal removed, x-envoy-external-address the peer", () => {
    expect(run({ 'x-forwarded-for': '203.0.113.128, 203.0.113.10, 203.0.113.1', 'x-envoy-internal': 'true' }, '192.0.2.5')).toEqual({
      'x-forwarded-for': '203.0.113.128, 203.0.113.10, 203.0.113.1, 192.0.2.5',
      'x-envoy-external-address': '192.0.2.5',
      'x-forwarded-proto': 'http',
    });
    expect(run({ 'x-envoy-internal': 'true', 'x-forwarded-proto': 'https' }, '192.0.2.5')).toEqual({
      'x-forwarded-for': '192.0.2.5',
      'x-envoy-external-address': '192.0.2.5',
      'x-forwarded-proto': 'http',
    });
  });

  it('an internal client that sends an XFF is not internal (it forwards someone else)', () => {
    expect(run({ 'x-forwarded-for': '10.0.0.9' }, '10.0.0.5')).toEqual({ 'x-forwarded-for': '10.0.0.9, 10.0.0.5', 'x-envoy-external-address': '10.0.0.5', 'x-forwarded-proto': 'http' });
  });

  it("two trusted proxies in front (Envoy's example 3): the client is the 2nd address from the right, x-forwarded-proto kept", () => {
    expect(run({ 'x-forwarded-for': '203.0.113.128, 203.0.113.10, 203.0.113.1', 'x-forwarded-proto': 'https' }, '192.0.2.5', 2)).toEqual({
      'x-forwarded-for': '203.0.113.128, 203.0.113.10, 203.0.113.1, 192.0.2.5',
      'x-envoy-external-address': '203.0.113.10',
      'x-forwarded-proto': 'https',
    });
    // too few addresses for the trusted hops: the peer is the client
    expect(run({ 'x-forwarded-for': '203.0.113.1' }, '192.0.2.5', 2)['x-envoy-external-address']).toBe('192.0.2.5');
  });
});

describe('trustedClientAddress (what remoteIpBlocks / remote.ip match)', () => {
  const xff = '203.0.113.128, 203.0.113.10, 203.0.113.1';
  it('at the edge: the peer without trusted hops, else the Nth address from the right', () => {
    expect(trustedClientAddress(xff, '192.0.2.5', { useRemoteAddress: true, numTrustedHops: 0 })).toBe('192.0.2.5');
    expect(trustedClientAddress(xff, '192.0.2.5', { useRemoteAddress: true, numTrustedHops: 1 })).toBe('203.0.113.1');
    expect(trustedClientAddress(xff, '192.0.2.5', { useRemoteAddress: true, numTrustedHops: 3 })).toBe('203.0.113.128');
    expect(trustedClientAddress(xff, '192.0.2.5', { useRemoteAddress: true, numTrustedHops: 4 })).toBe('192.0.2.5');
    expect(trustedClientAddress('not-an-ip', '::ffff:192.0.2.5', { useRemoteAddress: true, numTrustedHops: 1 })).toBe('192.0.2.5');
  });
  it("on a sidecar (Envoy's example 2): the last XFF address, else the peer", () => {
    expect(trustedClientAddress(xff, '127.0.0.1', { useRemoteAddress: false, numTrustedHops: 0 })).toBe('203.0.113.1');
    expect(trustedClientAddress(undefined, '127.0.0.1', { useRemoteAddress: false, numTrustedHops: 0 })).toBe('127.0.0.1');
  });
});

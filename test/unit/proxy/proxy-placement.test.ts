/**
 * Which data-plane worker runs which proxy (sandbox/proxy/proxy-placement.ts), and how the admin
 * views of several workers merge (sandbox/proxy/data-plane-merge.ts).
 */
import { describe, expect, it } from 'vitest';
import { ProxyPlacement } from '../../../sandbox/proxy/proxy-placement.js';
import { mergeClusters, mergeSecrets } from '../../../sandbox/proxy/data-plane-merge.js';

describe('ProxyPlacement', () => {
  it('places each proxy once, on the least loaded worker, and keeps it there', () => {
    const p = new ProxyPlacement(2);
    expect(['gw', 'caller-1', 'callme-1', 'callme-2', 'caller-1', 'gw'].map((id) => p.ownerOf(id))).toEqual([0, 1, 0, 1, 1, 0]);
    expect(p.ownedBy(0)).toEqual(['gw', 'callme-1']);
    expect(p.ownedBy(1)).toEqual(['caller-1', 'callme-2']);
  });

  it('splits listeners by the worker of their proxy: all listeners of a sidecar together', () => {
    const p = new ProxyPlacement(3);
    const listeners = ['gw/http.80', 'a-1/inbound', 'a-1/outbound', 'b-1/inbound', 'b-1/outbound', 'a-1/outbound/b'].map((name) => ({ name, proxyId: name.split('/')[0]! }));
    const parts = p.split(listeners, (l) => l.proxyId).map((part) => part.map((l) => l.name));
    expect(parts).toEqual([['gw/http.80'], ['a-1/inbound', 'a-1/outbound', 'a-1/outbound/b'], ['b-1/inbound', 'b-1/outbound']]);
  });

  it('places standalone Toxiproxy proxies by the same load, and frees their slot when stopped', () => {
    const p = new ProxyPlacement(2);
    p.ownerOf('gw');
    expect(p.placeStandalone('redis')).toBe(1);
    expect(p.placeStandalone('redis')).toBe(1);
    expect(p.placeStandalone('pg')).toBe(0);
    p.releaseStandalone('redis');
    expect(p.standaloneOf('redis')).toBeUndefined();
    expect(p.ownerOf('a-1')).toBe(1);
    p.releaseAllStandalone();
    expect(p.standaloneOf('pg')).toBeUndefined();
  });

  it('with one worker, everything is on it', () => {
    const p = new ProxyPlacement(1);
    expect(['x', 'y', 'z'].map((id) => p.ownerOf(id))).toEqual([0, 0, 0]);
  });
});

describe('merged admin views', () => {
  it('clusters: every worker\'s, the oldest version, toxic proxies with every port', () => {
    const merged = mergeClusters([
      { version: 7, clusters: [{ proxy: 'gw', name: 'a' }], toxicProxies: { 'callme-1': { port: 100 } } },
      { version: 6, clusters: [{ proxy: 'caller-1', name: 'a' }], toxicProxies: { 'callme-1': { port: 200 }, 'callme-2': { port: 300 } } },
    ]);
    expect(merged.version).toBe(6);
    expect(merged.clusters.map((c) => c['proxy'])).toEqual(['gw', 'caller-1']);
    expect(merged.toxicProxies).toEqual({ 'callme-1': { port: 100, ports: [100, 200] }, 'callme-2': { port: 300 } });
  });

  it('secrets: each proxy once, handshake counters summed', () => {
    const secret = (proxyId: string) => ({ proxyId, serial: `s-${proxyId}` });
    const merged = mergeSecrets([
      { secrets: [secret('gw'), secret('a')], inbound: { handshakes: 2, plaintextRefused: 1, handshakeFailures: 0 }, upstream: { handshakes: 3, resumed: 1 } },
      { secrets: [secret('gw'), secret('a')], inbound: { handshakes: 3, plaintextRefused: 0, handshakeFailures: 1 }, upstream: { handshakes: 2, resumed: 2 } },
    ]);
    expect(merged.secrets.map((s) => s.proxyId)).toEqual(['gw', 'a']);
    expect(merged.inbound).toEqual({ handshakes: 5, plaintextRefused: 1, handshakeFailures: 1 });
    expect(merged.upstream).toEqual({ handshakes: 5, resumed: 3 });
  });
});

import { describe, expect, it } from 'vitest';
import type { HTTPMatchRequest } from '../../../sandbox/config/istio-types.js';
import type { RouteConfig, RouteEntryConfig } from '../../../sandbox/control/snapshot.js';
import { RequestMatcher } from '../../../sandbox/proxy/routing/request-matcher.js';
import { isSelection, RouteTable } from '../../../sandbox/proxy/routing/route-table.js';
import type { RequestView } from '../../../sandbox/proxy/routing/request-view.js';
import { Rng } from '../../../sandbox/rng.js';

const req = (over: Partial<RequestView> = {}): RequestView => ({
  method: 'GET',
  path: '/',
  authority: 'reviews',
  scheme: 'http',
  port: 9080,
  headers: {},
  ...over,
});

const matches = (m: HTTPMatchRequest, r: Partial<RequestView>): boolean => new RequestMatcher(m).matches(req(r)).matched;

function route(name: string, match: HTTPMatchRequest[], subset = name): RouteEntryConfig {
  const cluster = `outbound|9080|${subset}|reviews.default.svc.cluster.local`;
  return {
    name,
    origin: { resource: 'VirtualService default/reviews', index: 0 },
    match,
    action: { type: 'route', destinations: [{ clusterKey: cluster, clusterName: cluster, host: 'reviews', subset, port: 9080, weight: 100 }] },
    timeoutMs: null,
    retry: { attempts: 0, perTryTimeoutMs: null, retryOn: [], retriableStatusCodes: [], retryIgnorePreviousHosts: true, backoffBaseMs: 25, isDefault: false },
  };
}

describe('HTTPMatchRequest semantics', () => {
  it('uri exact ignores the query string; prefix is a plain string prefix', () => {
    expect(matches({ uri: { exact: '/productpage' } }, { path: '/productpage?x=1' })).toBe(true);
    expect(matches({ uri: { exact: '/productpage' } }, { path: '/productpage/' })).toBe(false);
    expect(matches({ uri: { prefix: '/foo' } }, { path: '/foobar' })).toBe(true);
    expect(matches({ uri: { prefix: '/foo' } }, { path: '/fo' })).toBe(false);
  });

  it('uri regex must match the whole path (RE2 full match), (?i) folds case', () => {
    expect(matches({ uri: { regex: '/api/v[0-9]+/.*' } }, { path: '/api/v2/x' })).toBe(true);
    expect(matches({ uri: { regex: '/api/v[0-9]+' } }, { path: '/x/api/v2' })).toBe(false);
    expect(matches({ uri: { regex: '(?i)/API' } }, { path: '/api' })).toBe(true);
  });

  it('ignoreUriCase relaxes exact and prefix only', () => {
    expect(matches({ uri: { exact: '/Login' }, ignoreUriCase: true }, { path: '/LOGIN' })).toBe(true);
    expect(matches({ uri: { prefix: '/Static' }, ignoreUriCase: true }, { path: '/static/a.css' })).toBe(true);
    expect(matches({ uri: { exact: '/Login' } }, { path: '/LOGIN' })).toBe(false);
  });

  it('headers: exact, prefix, regex and presence; withoutHeaders negates', () => {
    expect(matches({ headers: { 'end-user': { exact: 'jason' } } }, { headers: { 'end-user': 'jason' } })).toBe(true);
    expect(matches({ headers: { 'end-user': { exact: 'jason' } } }, { headers: { 'end-user': 'Jason' } })).toBe(false);
    expect(matches({ headers: { 'end-user': { exact: 'jason' } } }, { headers: {} })).toBe(false);
    expect(matches({ headers: { 'user-agent': { prefix: 'Mozilla' } } }, { headers: { 'user-agent': 'Mozilla/5.0' } })).toBe(true);
    expect(matches({ headers: { 'x-v': { regex: 'v[12]' } } }, { headers: { 'x-v': 'v2' } })).toBe(true);
    expect(matches({ headers: { 'x-debug': {} } }, { headers: { 'x-debug': '' } })).toBe(true);
    expect(matches({ headers: { 'x-debug': {} } }, { headers: {} })).toBe(false);
    expect(matches({ withoutHeaders: { 'x-canary': { exact: 'true' } } }, { headers: {} })).toBe(true);
    expect(matches({ withoutHeaders: { 'x-canary': { exact: 'true' } } }, { headers: { 'x-canary': 'true' } })).toBe(false);
  });

  it('queryParams: exact "" matches a bare key; regex is a full match', () => {
    expect(matches({ queryParams: { debug: { exact: '' } } }, { path: '/?debug' })).toBe(true);
    expect(matches({ queryParams: { id: { regex: '\\d+' } } }, { path: '/?id=123' })).toBe(true);
    expect(matches({ queryParams: { id: { regex: '\\d+' } } }, { path: '/?id=a123' })).toBe(false);
    expect(matches({ queryParams: { id: { exact: '1' } } }, { path: '/' })).toBe(false);
  });

  it('method, authority (port included, as sent) and port', () => {
    expect(matches({ method: { exact: 'POST' } }, { method: 'POST' })).toBe(true);
    expect(matches({ method: { exact: 'POST' } }, { method: 'GET' })).toBe(false);
    expect(matches({ authority: { exact: 'reviews' } }, { authority: 'reviews:9080' })).toBe(false);
    expect(matches({ authority: { prefix: 'reviews' } }, { authority: 'reviews:9080' })).toBe(true);
    expect(matches({ port: 9080 }, { port: 9080 })).toBe(true);
    expect(matches({ port: 9090 }, { port: 9080 })).toBe(false);
  });

  it('all conditions of a block must hold (AND)', () => {
    const m = { uri: { prefix: '/api' }, method: { exact: 'GET' }, headers: { 'end-user': { exact: 'jason' } } };
    expect(matches(m, { path: '/api/x', headers: { 'end-user': 'jason' } })).toBe(true);
    expect(matches(m, { path: '/api/x', headers: {} })).toBe(false);
    expect(matches(m, { path: '/api/x', method: 'PUT', headers: { 'end-user': 'jason' } })).toBe(false);
  });
});

describe('RouteTable', () => {
  const config: RouteConfig = {
    name: 'test',
    virtualHosts: [
      {
        name: 'reviews',
        domains: ['reviews', 'reviews:9080'],
        routes: [
          route('jason', [{ headers: { 'end-user': { exact: 'jason' } } }, { uri: { prefix: '/v3' } }], 'v2'),
          route('rest', [], 'v3'),
          route('never', [{ uri: { prefix: '/' } }], 'v1'),
        ],
      },
      { name: 'wild', domains: ['*.example.com'], routes: [route('wild', [], 'w')] },
      { name: 'any', domains: ['*'], routes: [route('any', [], 'a')] },
    ],
  };
  const table = new RouteTable(config);

  it('OR across match blocks, first matching route wins, and says why', () => {
    const a = table.select(req({ headers: { 'end-user': 'jason' } }));
    expect(isSelection(a) && a.route.name).toBe('jason');
    const b = table.select(req({ path: '/v3/x' }));
    expect(isSelection(b) && b.route.name).toBe('jason');
    const c = table.select(req({ path: '/x' }));
    expect(isSelection(c) && c.route.name).toBe('rest');
    expect(c.why).toEqual(['VirtualService default/reviews http[0]: matched (no match conditions)']);
    expect(c.decision).toEqual({ virtualHost: 0, route: 1, match: -1, skipped: 1 });
    // the skipped routes are explained on demand
    const why = table.explain(req({ path: '/x' }));
    expect(why[0]).toContain('skipped, match[0] header end-user exact "jason" did not hold; match[1] uri prefix "/v3" did not hold');
    expect(why[1]).toBe(c.why[0]);
  });

  it('virtual hosts: exact (with or without port), wildcard suffix, then *', () => {
    expect(table.findVirtualHost('reviews:9080')?.config.name).toBe('reviews');
    expect(table.findVirtualHost('REVIEWS')?.config.name).toBe('reviews');
    expect(table.findVirtualHost('a.example.com:8080')?.config.name).toBe('wild');
    expect(table.findVirtualHost('example.com')?.config.name).toBe('any');
  });

  it('a request matching no route of its virtual host is a miss (404 NR)', () => {
    const t = new RouteTable({ name: 'x', virtualHosts: [{ name: 'h', domains: ['h'], routes: [route('only', [{ uri: { exact: '/a' } }])] }] });
    const miss = t.select(req({ authority: 'h', path: '/b' }));
    expect(isSelection(miss)).toBe(false);
    expect(miss.why.at(-1)).toContain('no route of virtual host h matched');
    expect(miss.decision).toEqual({ virtualHost: 0, route: -1, match: -1, skipped: 1 });
    expect(t.explain(req({ authority: 'h', path: '/b' }))).toEqual([
      'VirtualService default/reviews http[0]: skipped, match[0] uri exact "/a" did not hold',
      'no route of virtual host h matched',
    ]);
    expect(isSelection(t.select(req({ authority: 'other' })))).toBe(false);
  });

  it('weighted destinations: 80/20 within tolerance over 20000 seeded picks', () => {
    const cfg = route('split', []);
    cfg.action = {
      type: 'route',
      destinations: [
        { clusterKey: 'v2', clusterName: 'v2', host: 'reviews', subset: 'v2', port: 9080, weight: 80 },
        { clusterKey: 'v1', clusterName: 'v1', host: 'reviews', subset: 'v1', port: 9080, weight: 20 },
      ],
    };
    const t = new RouteTable({ name: 'x', virtualHosts: [{ name: 'h', domains: ['*'], routes: [cfg] }] });
    const sel = t.select(req());
    if (!isSelection(sel)) throw new Error('no route');
    const rng = new Rng(42);
    let v2 = 0;
    for (let i = 0; i < 20_000; i++) if (sel.route.pickDestination(rng)?.destination.subset === 'v2') v2++;
    expect(v2 / 20_000).toBeGreaterThan(0.79);
    expect(v2 / 20_000).toBeLessThan(0.81);
  });

  it('weight 0 receives nothing', () => {
    const cfg = route('z', []);
    cfg.action = {
      type: 'route',
      destinations: [
        { clusterKey: 'a', clusterName: 'a', host: 'r', subset: 'a', port: 1, weight: 100 },
        { clusterKey: 'b', clusterName: 'b', host: 'r', subset: 'b', port: 1, weight: 0 },
      ],
    };
    const t = new RouteTable({ name: 'x', virtualHosts: [{ name: 'h', domains: ['*'], routes: [cfg] }] });
    const sel = t.select(req());
    if (!isSelection(sel)) throw new Error('no route');
    const rng = new Rng(1);
    for (let i = 0; i < 1000; i++) expect(sel.route.pickDestination(rng)?.destination.subset).toBe('a');
  });
});

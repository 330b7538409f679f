/**
 * A 5,000-route VirtualService (issue #13): the route table picks the same route as a plain
 * first-match scan of every route, and what a request records is O(matched): the matched
 * route's precompiled line and a reference (virtual host, route, match block), never one string
 * per skipped route. The skipped routes are explained on demand, with the old text.
 */
import { describe, expect, it } from 'vitest';
import { parseRulesText } from '../../../sandbox/config/rules-loader.js';
import { compile } from '../../../sandbox/control/compiler.js';
import type { Instance } from '../../../sandbox/control/registry.js';
import type { RouteConfig } from '../../../sandbox/control/snapshot.js';
import { isSelection, RouteTable } from '../../../sandbox/proxy/routing/route-table.js';
import type { RequestView } from '../../../sandbox/proxy/routing/request-view.js';
import { Rng } from '../../../sandbox/rng.js';
import { manyRoutesRulesFile } from '../../helpers/many-routes.js';
import { meshDefinition } from '../../helpers/mesh-harness.js';

const COUNT = 5000;

function compiled(count: number): { table: RouteTable; config: RouteConfig; routeConfigs: Record<string, RouteConfig> } {
  const mesh = meshDefinition([
    { name: 'client', versions: { v1: 2 } },
    { name: 'backend', versions: { v1: 1, v2: 1 } },
  ]);
  const parsed = parseRulesText(manyRoutesRulesFile({ count, host: 'backend' }), 'routes.yaml');
  expect(parsed.findings.filter((f) => f.severity === 'error')).toEqual([]);
  let port = 30000;
  const instances: Instance[] = mesh.services.flatMap((s) =>
    s.workloads.flatMap((w) =>
      Array.from({ length: w.replicas }, (_, i) => ({
        id: `${w.workload}-${i + 1}`,
        workload: w,
        ordinal: i + 1,
        appPort: port++,
        sidecar: { inbound: port++, outbound: port++, services: {} },
        state: 'running' as const,
        healthy: true,
        drained: false,
        restarts: 0,
      })),
    ),
  );
  const snapshot = compile({ version: 1, mesh, resources: parsed.resources, instances, ingress: { address: '127.0.0.1', port: 0 } });
  const config = snapshot.routeConfigs['outbound/client-v1-1']!;
  return { table: new RouteTable(config), config, routeConfigs: snapshot.routeConfigs };
}

const view = (path: string, headers: Record<string, string> = {}): RequestView => ({
  method: 'GET',
  path,
  authority: 'backend:8080',
  scheme: 'http',
  port: 8080,
  headers: { host: 'backend:8080', ...headers },
});

describe('a 5,000-route table', () => {
  const { table, config, routeConfigs } = compiled(COUNT);
  const vh = config.virtualHosts.find((v) => v.domains.includes('backend'))!;

  it('has every route, in http[] order', () => {
    expect(vh.routes).toHaveLength(COUNT);
    expect(vh.routes[0]!.name).toBe('tenant-0');
    expect(vh.routes[COUNT - 1]!.name).toBe('default');
  });

  it('sidecars whose routes cannot differ share one route list (compiled and shipped once)', () => {
    expect(routeConfigs['outbound/client-v1-2']!.virtualHosts).toBe(routeConfigs['outbound/client-v1-1']!.virtualHosts);
    expect(routeConfigs['outbound/backend-v1-1']!.virtualHosts).toBe(routeConfigs['outbound/client-v1-1']!.virtualHosts);
  });

  it('selects the right route: a tenant by prefix and header, the default otherwise', () => {
    const cases: Array<[RequestView, string]> = [
      [view('/callme/ping'), 'default'],
      [view('/callme/tenant-1234/orders', { 'x-tenant': 't1234' }), 'tenant-1234'],
      [view('/callme/tenant-1234/orders'), 'default'],
      [view('/callme/tenant-1234/orders', { 'x-tenant': 't1235' }), 'default'],
      [view('/callme/tenant-4998/', { 'x-tenant': 't4998' }), 'tenant-4998'],
      [view('/callme/tenant-0/?q=1', { 'x-tenant': 't0' }), 'tenant-0'],
      // `/callme/tenant-12/` is a prefix of `/callme/tenant-12/...` only, not of tenant-123's
      [view('/callme/tenant-123/x', { 'x-tenant': 't12' }), 'default'],
    ];
    for (const [req, name] of cases) {
      const sel = table.select(req);
      expect(isSelection(sel) && sel.route.name, `${req.path} ${JSON.stringify(req.headers)}`).toBe(name);
    }
  });

  it('agrees with a first-match scan of every route, over 1000 seeded requests', () => {
    const rng = new Rng(7);
    for (let i = 0; i < 1000; i++) {
      const n = rng.int(COUNT + 10);
      const path = rng.next() < 0.8 ? `/callme/tenant-${n}/${rng.int(3) === 0 ? '' : 'x'}` : `/callme/other-${n}`;
      const headers: Record<string, string> = rng.next() < 0.7 ? { 'x-tenant': `t${rng.next() < 0.8 ? n : rng.int(COUNT)}` } : {};
      const req = view(path, headers);
      const scan = vh.routes.findIndex((r) => r.match.length === 0 || r.match.some((m) => path.startsWith(m.uri!.prefix!) && headers['x-tenant'] === m.headers!['x-tenant']!.exact));
      const sel = table.select(req);
      expect(isSelection(sel) ? sel.decision.route : -1, `${path} ${JSON.stringify(headers)}`).toBe(scan);
    }
  });

  it('a request records the matched route only, not a string per skipped route', () => {
    const sel = table.select(view('/callme/ping'));
    if (!isSelection(sel)) throw new Error('no route');
    expect(sel.decision).toMatchObject({ route: COUNT - 1, match: -1, skipped: COUNT - 1 });
    expect(sel.why).toHaveLength(1);
    expect(sel.why[0]).toMatch(/^VirtualService default\/backend-route http\[4999\] \(routes\.yaml:\d+:\d+\): matched \(no match conditions\)$/);
    expect(sel.why.join('\n')).not.toContain('skipped');
    // the lines are built once per snapshot: the same string objects every request
    expect(table.select(view('/callme/ping')).why[0]).toBe(sel.why[0]);
  });

  it('explains the skipped routes on demand, as select() used to', () => {
    const lines = table.explain(view('/callme/ping'));
    expect(lines).toHaveLength(COUNT);
    expect(lines[0]).toMatch(/^VirtualService default\/backend-route http\[0\] \(routes\.yaml:\d+:\d+\): skipped, match\[0\] uri prefix "\/callme\/tenant-0\/" did not hold$/);
    expect(lines[COUNT - 1]).toBe(table.select(view('/callme/ping')).why[0]);
    const tenant = table.explain(view('/callme/tenant-2/x', { 'x-tenant': 't2' }));
    expect(tenant).toHaveLength(3);
    expect(tenant[1]).toContain('http[1] (routes.yaml:');
    expect(tenant[1]).toContain('skipped, match[0] uri prefix "/callme/tenant-1/" did not hold');
    expect(tenant[2]).toMatch(/http\[2\] .*: matched match\[0\] \(uri prefix "\/callme\/tenant-2\/" and header x-tenant exact "t2"\)$/);
  });
});

describe('route index keeps first-match semantics', () => {
  const r = (name: string, match: RouteConfig['virtualHosts'][number]['routes'][number]['match']) => ({
    name,
    origin: { resource: 'VirtualService default/x', index: 0 },
    match,
    action: { type: 'route' as const, destinations: [{ clusterKey: name, clusterName: name, host: 'x', port: 80, weight: 100 }] },
    timeoutMs: null,
    retry: { attempts: 0, perTryTimeoutMs: null, retryOn: [], retriableStatusCodes: [], retryIgnorePreviousHosts: true, backoffBaseMs: 25, isDefault: false },
  });
  const table = new RouteTable({
    name: 't',
    virtualHosts: [
      {
        name: 'x',
        domains: ['*'],
        routes: [
          r('regex', [{ uri: { regex: '/r/[0-9]+' } }]),
          r('exact', [{ uri: { exact: '/a' } }]),
          r('case', [{ uri: { prefix: '/CaSe' }, ignoreUriCase: true }]),
          r('or', [{ uri: { exact: '/o1' } }, { headers: { 'x-o': { exact: '2' } } }]),
          r('prefix', [{ uri: { prefix: '/a' } }]),
          r('header', [{ headers: { 'x-h': { exact: 'v' } } }]),
          r('last', []),
        ],
      },
    ],
  });
  const pick = (path: string, headers: Record<string, string> = {}): string => {
    const sel = table.select({ method: 'GET', path, authority: 'x', scheme: 'http', port: 80, headers });
    return isSelection(sel) ? sel.route.name : '-';
  };

  it('unindexable routes (regex, blocks without uri) keep their place in the order', () => {
    expect(pick('/r/12')).toBe('regex');
    expect(pick('/a')).toBe('exact');
    expect(pick('/a?x=1')).toBe('exact');
    expect(pick('/ab')).toBe('prefix');
    expect(pick('/case/x')).toBe('case');
    expect(pick('/o1')).toBe('or');
    expect(pick('/ab', { 'x-o': '2' })).toBe('or');
    expect(pick('/zz', { 'x-h': 'v' })).toBe('header');
    expect(pick('/zz')).toBe('last');
  });
});

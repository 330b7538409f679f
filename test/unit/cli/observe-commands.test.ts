/** Pure parts of tap/top/stat/get/delete/port-forward: formats, kinds, stat window, YAML surgery. */
import { describe, expect, it } from 'vitest';
import { percentile, RequestWindow } from '../../../sandbox/admin/request-window.js';
import { parseSelector } from '../../../sandbox/admin/observe-routes.js';
import { removeDocument } from '../../../cli/commands/delete.js';
import { parsePorts } from '../../../cli/commands/port-forward.js';
import { tapLines } from '../../../cli/commands/tap.js';
import { TopTable } from '../../../cli/commands/top.js';
import { outputFormat, formatTable } from '../../../cli/output-format.js';
import { resolveKind, splitKindName } from '../../../cli/resource-kinds.js';
import type { RequestEvent } from '../../../sandbox/events.js';

const peer = { workload: 'caller-service-v1', namespace: 'default', app: 'caller-service', version: 'v1', principal: '', canonicalService: 'caller-service', canonicalRevision: 'v1' };
function ev(over: Partial<RequestEvent> = {}): RequestEvent {
  return {
    type: 'mesh:request:end', reporter: 'destination', proxy: 'callme-service-v2-1', listener: 'inbound', startTime: 1000, durationMs: 3.2, method: 'GET',
    path: '/callme/ping', authority: 'callme-service:8080', protocol: 'HTTP/1.1', requestId: 'r1', userAgent: '', forwardedFor: '', status: 200, responseFlags: '-',
    responseCodeDetails: 'via_upstream', bytesReceived: 0, bytesSent: 21, upstreamServiceTimeMs: 3, downstreamLocalAddress: '', downstreamRemoteAddress: '127.0.0.1:5000', attempts: 1,
    source: peer, destination: { ...peer, workload: 'callme-service-v2', serviceName: 'callme-service', serviceNamespace: 'default', service: 'callme-service.default.svc.cluster.local' },
    why: [], requestHeaders: {}, snapshotVersion: 1, ...over,
  };
}

describe('tap lines', () => {
  it('prints req, rsp and end as linkerd viz tap does', () => {
    expect(tapLines(ev(), '0:7', false)).toEqual([
      'req id=0:7 proxy=in src=caller-service-v1 dst=callme-service-v2 :method=GET :authority=callme-service:8080 :path=/callme/ping',
      'rsp id=0:7 proxy=in src=caller-service-v1 dst=callme-service-v2 :status=200 latency=3000µs',
      'end id=0:7 proxy=in src=caller-service-v1 dst=callme-service-v2 duration=200µs response-length=21B',
    ]);
  });
  it('a reset ends with reset-error and no rsp line; wide adds resources and flags', () => {
    const lines = tapLines(ev({ status: 0, responseFlags: 'UC', reporter: 'source' }), '0:1', true);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^end id=0:1 proxy=out .*src_res=deploy\/caller-service-v1 dst_res=svc\/callme-service .* reset-error=UC duration=3200µs flags=UC/);
  });
});

describe('top table', () => {
  it('counts a request once: at the destination, or at the source when it reached none', () => {
    const t = new TopTable();
    expect(t.add(ev())).toBe(true);
    expect(t.add(ev({ reporter: 'source', proxy: 'caller-service-v1-1' }))).toBe(false);
    expect(t.add(ev({ reporter: 'source', proxy: 'caller-service-v1-1', attempts: 0, status: 503, durationMs: 1 }))).toBe(true);
    expect(t.add(ev({ durationMs: 9, status: 500 }))).toBe(true);
    const rows = t.sorted();
    expect(rows[0]).toMatchObject({ destination: 'callme-service-v2-1', count: 2, bestMs: 3.2, worstMs: 9, lastMs: 9, successes: 1 });
    expect(rows[1]).toMatchObject({ destination: 'callme-service', count: 1, successes: 0 });
    expect(t.lines()[1]).toMatch(/^caller-service-v1\s+callme-service-v2-1\s+GET\s+\/callme\/ping\s+2\s+3ms\s+9ms\s+9ms\s+50\.00%$/);
  });
});

describe('stat window', () => {
  it('nearest-rank percentiles', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(v, 0.5), percentile(v, 0.95), percentile(v, 0.99)]).toEqual([50, 95, 99]);
    expect(percentile([], 0.5)).toBeNull();
  });
  it('aggregates destination events over the window only; sources are not counted twice', () => {
    let now = 100_000;
    const w = new RequestWindow(() => now);
    now = 160_000;
    for (let i = 0; i < 10; i++) w.observe(ev({ startTime: 100_000 + i * 1000, durationMs: i + 1, status: i === 0 ? 503 : 200, downstreamRemoteAddress: `127.0.0.1:${i % 2}` }));
    w.observe(ev({ reporter: 'source', startTime: 150_000 }));
    const [row] = w.stat('service', 60_000, ['callme-service']);
    expect(row).toMatchObject({ name: 'callme-service', requests: 10, success: 0.9, latencyP50Ms: 5, latencyP99Ms: 10, tcpConnections: 2 });
    expect(row!.rps).toBeCloseTo(10 / 60, 5);
    const [recent] = w.stat('service', 55_000, ['callme-service']);
    expect(recent!.requests).toBe(5);
    expect(w.stat('service', 60_000, ['caller-service'])[0]).toMatchObject({ requests: 0, success: null, latencyP50Ms: null });
  });
});

describe('kinds, formats, selectors, ports', () => {
  it('kubectl names and short names resolve; typos get a did-you-mean', () => {
    for (const w of ['vs', 'VirtualService', 'virtualservices.networking.istio.io', 'virtualservice']) expect(resolveKind(w).plural).toBe('virtualservices');
    expect(resolveKind('dr').plural).toBe('destinationrules');
    expect(resolveKind('gw').plural).toBe('gateways');
    expect(resolveKind('svc').plural).toBe('services');
    expect(resolveKind('po').plural).toBe('pods');
    expect(resolveKind('deploy').plural).toBe('workloads');
    expect(() => resolveKind('destinationrule2')).toThrow(/unknown resource type/);
    expect(() => resolveKind('gatway')).toThrow(expect.objectContaining({ hint: expect.stringContaining('did you mean `gateway`?') }));
    expect(splitKindName('vs/x', undefined)).toMatchObject({ kind: { plural: 'virtualservices' }, name: 'x' });
  });
  it('-o and --json', () => {
    expect(outputFormat({}, ['table', 'json'])).toBe('table');
    expect(outputFormat({ json: true }, ['table', 'json'])).toBe('json');
    expect(outputFormat({ output: 'YAML' }, ['table', 'yaml'])).toBe('yaml');
    expect(() => outputFormat({ output: 'yaml' }, ['table', 'json'])).toThrow(/unknown output format/);
    expect(formatTable(['A', 'BB'], [['xxx', 'y']])).toEqual(['A     BB', 'xxx   y']);
  });
  it('label selectors and ports', () => {
    expect(parseSelector('app=callme-service, version==v2')).toEqual([['app', 'callme-service'], ['version', 'v2']]);
    expect(() => parseSelector('app')).toThrow(/not key=value/);
    expect(parsePorts('9090')).toEqual({ local: 9090, remote: undefined });
    expect(parsePorts('9090:8080')).toEqual({ local: 9090, remote: 8080 });
    expect(() => parsePorts('http')).toThrow(/not a local port/);
    expect(() => parsePorts('70000')).toThrow(/not a local port/);
  });
});

describe('delete: removing one document from a rules file', () => {
  const text = `# header comment
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: a
spec:
  host: a
---
# about the VS
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: a
spec:
  hosts: [a]
---
kind: Gateway
metadata: { name: g, namespace: other }
`;
  it('removes only the matching document and its comments; the rest stays byte for byte', () => {
    const r = removeDocument(text, 'VirtualService', 'a', 'default')!;
    expect(r.left).toBe(2);
    expect(r.text).toBe(`# header comment
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: a
spec:
  host: a
---
kind: Gateway
metadata: { name: g, namespace: other }
`);
    const first = removeDocument(text, 'DestinationRule', 'a', 'default')!;
    expect(first.text.startsWith('# about the VS\napiVersion')).toBe(true);
    expect(removeDocument(text, 'Gateway', 'g', 'default')).toBeUndefined();
    expect(removeDocument(text, 'Gateway', 'g', 'other')!.left).toBe(2);
    const only = removeDocument('kind: Gateway\nmetadata:\n  name: g\n', 'Gateway', 'g', 'default')!;
    expect(only.left).toBe(0);
  });
});

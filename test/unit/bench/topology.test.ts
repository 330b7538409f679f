import { describe, expect, it } from 'vitest';
import { parseMeshText } from '../../../sandbox/config/mesh-file.js';
import { parseRulesText } from '../../../sandbox/config/rules-loader.js';
import { appEnv, FULL_BODY, INGRESS_HOST, meshboxFiles, MTLS_OFF_RULES, SINGLE_BODY, sumTlsCounters } from '../../bench/topology.js';

describe('meshboxFiles', () => {
  const files = meshboxFiles('/usr/bin/node', '/repo');

  it('is a valid meshbox.yaml with one caller and one callme instance', () => {
    const { mesh, findings } = parseMeshText(files.meshYaml, '/tmp/bench/meshbox/meshbox.yaml');
    expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(mesh?.name).toBe('meshbox-bench');
    const services = Object.fromEntries(mesh!.services.map((s) => [s.name, s]));
    expect(Object.keys(services).sort()).toEqual(['caller-service', 'callme-service']);
    for (const [name, main] of [
      ['caller-service', 'caller'],
      ['callme-service', 'callme'],
    ] as const) {
      const workloads = services[name]!.workloads;
      expect(workloads).toHaveLength(1);
      expect(workloads[0]).toMatchObject({ version: 'v1', replicas: 1, command: ['/usr/bin/node', `/repo/dist/sample-services/${main}/main.js`] });
      expect(workloads[0]!.env).toMatchObject({ ACCESS_LOG: 'off', VERSION: 'v1' });
    }
  });

  it('has rules for the ingress only: a Gateway and its VirtualService, no retries or timeouts', () => {
    const { resources, findings } = parseRulesText(files.rulesYaml, '/tmp/bench/meshbox/rules/bench.yaml');
    expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(resources.map((r) => r.kind).sort()).toEqual(['Gateway', 'VirtualService']);
    expect(files.rulesYaml).toContain(INGRESS_HOST);
    expect(files.rulesYaml).not.toMatch(/retries|timeout|weight/);
  });
});

describe('the mTLS-off phase', () => {
  it('adds a mesh-wide PeerAuthentication DISABLE in istio-system, a valid rules file', () => {
    const { resources, findings } = parseRulesText(MTLS_OFF_RULES, '/tmp/bench/meshbox-no-mtls/rules/mtls-off.yaml');
    expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(resources).toHaveLength(1);
    expect(resources[0]).toMatchObject({ kind: 'PeerAuthentication', metadata: { name: 'default', namespace: 'istio-system' }, spec: { mtls: { mode: 'DISABLE' } } });
    expect((resources[0]!.spec as { selector?: unknown }).selector).toBeUndefined();
  });

  it('counts the TLS handshakes of every cluster from the admin /clusters JSON', () => {
    const body = { clusters: [{ name: 'a', tls: { mode: 'AUTO', handshakes: 3, resumed: 1 } }, { name: 'inbound' }, { name: 'b', tls: { handshakes: 2, resumed: 2 } }] };
    expect(sumTlsCounters(body)).toEqual({ handshakes: 5, resumed: 3 });
    expect(() => sumTlsCounters({ error: 'x' })).toThrow(/has no clusters/);
  });
});

describe('appEnv', () => {
  it('drops inherited proxy, meshbox and app variables and sets the app ones', () => {
    const env = appEnv({ PATH: '/bin', HTTP_PROXY: 'http://x', no_proxy: '*', MESHBOX_SEED: '3', CALLME_URL: 'http://y', PORT: '1', HOME: '/root' }, { PORT: '8080' });
    expect(env).toEqual({ PATH: '/bin', HOME: '/root', ACCESS_LOG: 'off', HOST: '127.0.0.1', PORT: '8080' });
  });
});

describe('expected bodies', () => {
  it('match the sample services answers', () => {
    expect(FULL_BODY.test("I'm caller-service v1. Calling... I'm callme-service v1")).toBe(true);
    expect(FULL_BODY.test("I'm caller-service v1. Calling... error: connect ECONNREFUSED")).toBe(false);
    expect(SINGLE_BODY.test("I'm callme-service v1")).toBe(true);
  });
});

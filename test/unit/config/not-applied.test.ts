/**
 * Fields meshbox accepts but does not apply (issue #10, item 4): every one of them, at any depth,
 * is a "recognised, not applied" warning (MB1117) with its file:line:col; fields meshbox applies
 * are not; the README table lists exactly the marked fields.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SPEC_SCHEMAS } from '../../../sandbox/config/schemas/resource.js';
import { notAppliedFields } from '../../../sandbox/config/not-applied.js';
import { parseRulesText } from '../../../sandbox/config/rules-loader.js';
import { validatePaths } from '../../../sandbox/config/validate.js';
import { runValidate } from '../../../cli/commands/validate.js';
import { sampleMeshFile } from '../../../sandbox/paths.js';
import { code, withCode } from './helpers.js';

const EVERY = 'test/fixtures/config/not-applied/every-field.yaml';
const KINDS = ['VirtualService', 'DestinationRule', 'Gateway', 'ServiceEntry'] as const;
const MARKED = KINDS.flatMap((k) => notAppliedFields(k, SPEC_SCHEMAS[k]));

/** `spec.http[0].match[0].name is recognised ...` -> `spec.http[].match[].name` */
function pathOf(message: string): string {
  return message.split(' ')[0]!.replace(/\[\d+\]/g, '[]');
}

describe('recognised, not applied fields', () => {
  it('marks the fields the issue names, and more', () => {
    const fields = MARKED.map((f) => `${f.kind} ${f.field}`);
    for (const f of [
      'Gateway ServerTLSSettings.httpsRedirect',
      'DestinationRule TCPSettings.idleTimeout',
      'DestinationRule HTTPSettings.idleTimeout',
      'DestinationRule TCPSettings.tcpKeepalive',
      'DestinationRule ConsistentHashLB.maglev',
      'DestinationRule OutlierDetection.consecutiveLocalOriginFailures',
      'DestinationRule LoadBalancerSettings.warmupDurationSecs',
      'DestinationRule LoadBalancerSettings.localityLbSetting',
      'DestinationRule DestinationRuleSpec.exportTo',
      'VirtualService HTTPRetry.retryRemoteLocalities',
      'DestinationRule ClientTLSSettings.credentialName',
    ]) {
      expect(fields, f).toContain(f);
    }
  });

  it('warns about every marked field, once, at its key, without blocking the file', () => {
    const r = parseRulesText(readFileSync(EVERY, 'utf8'), EVERY);
    expect(r.applied).toBe(true);
    expect(r.findings.filter((f) => f.severity === 'error')).toEqual([]);
    const warnings = withCode(r.findings, 'FIELD_NOT_APPLIED');
    expect(warnings.every((w) => w.severity === 'warning' && w.location?.file === EVERY && w.resource !== undefined)).toBe(true);
    expect(warnings.map((w) => pathOf(w.message)).sort()).toEqual(MARKED.map((f) => f.example).sort());
    const at = (path: string): string => {
      const w = warnings.find((x) => x.message.startsWith(`${path} `))!;
      return `${w.location!.line}:${w.location!.col}`;
    };
    expect(at('spec.http[0].match[0].name')).toBe('14:7');
    expect(at('spec.http[0].retries.retryRemoteLocalities')).toBe('20:7');
    expect(at('spec.trafficPolicy.connectionPool.tcp.idleTimeout')).toBe('78:9');
    expect(at('spec.servers[0].tls.httpsRedirect')).toBe('126:11');
    // mirror, mirrors and corsPolicy in the file are applied: no warning
    expect(warnings.some((w) => /^spec\.http\[\d\]\.(mirror|mirrors|mirrorPercentage|corsPolicy) /.test(w.message))).toBe(false);
    const name = warnings.find((w) => w.message.startsWith('spec.http[0].match[0].name '))!;
    expect(name).toMatchObject({
      code: code('FIELD_NOT_APPLIED'),
      message: 'spec.http[0].match[0].name is recognised but not applied by this meshbox version: access logs show the route name only',
      resource: { kind: 'VirtualService', name: 'shop-route', namespace: 'default' },
    });
  });

  it('warns at any depth: subsets and their policies too', () => {
    const r = parseRulesText(
      [
        'apiVersion: networking.istio.io/v1',
        'kind: DestinationRule',
        'metadata: {name: deep}',
        'spec:',
        '  host: shop',
        '  subsets:',
        '  - name: v1',
        '    labels: {version: v1}',
        '    trafficPolicy:',
        '      connectionPool:',
        '        http: {maxRetries: 3, idleTimeout: 10s}',
        '      portLevelSettings:',
        '      - port: {number: 9080}',
        '        tls: {mode: SIMPLE, caCrl: /etc/crl.pem}',
      ].join('\n'),
      'deep.yaml',
    );
    expect(withCode(r.findings, 'FIELD_NOT_APPLIED').map((f) => `${f.location!.line}:${f.location!.col} ${pathOf(f.message)}`)).toEqual([
      '11:31 spec.subsets[].trafficPolicy.connectionPool.http.idleTimeout',
      '14:29 spec.subsets[].trafficPolicy.portLevelSettings[].tls.caCrl',
    ]);
  });

  it('flags values the data plane does not apply: PASSTHROUGH, and Gateway servers the ingress does not serve', () => {
    const r = parseRulesText(
      [
        'apiVersion: networking.istio.io/v1',
        'kind: DestinationRule',
        'metadata: {name: pass}',
        'spec:',
        '  host: shop',
        '  trafficPolicy: {loadBalancer: {simple: PASSTHROUGH}}',
        '---',
        'apiVersion: networking.istio.io/v1',
        'kind: Gateway',
        'metadata: {name: gw}',
        'spec:',
        '  servers:',
        '  - port: {number: 80, name: http, protocol: HTTP}',
        '    hosts: [a.example.com]',
        '  - port: {number: 8443, name: web, protocol: HTTP}',
        '    hosts: [a.example.com]',
        '  - port: {number: 27017, name: mongo, protocol: MONGO}',
        '    hosts: [a.example.com]',
        '  - port: {number: 443, name: https, protocol: HTTPS}',
        '    hosts: [a.example.com]',
        '    tls: {mode: SIMPLE, credentialName: a-cert}',
        '  - port: {number: 8444, name: tls, protocol: TLS}',
        '    hosts: [a.example.com]',
        '    tls: {mode: PASSTHROUGH}',
      ].join('\n'),
      'values.yaml',
    );
    // HTTP on 8443 and MONGO are served (on their own ports), so is TLS PASSTHROUGH; a server that needs TLS terminated is not
    expect(withCode(r.findings, 'FIELD_NOT_APPLIED').map((f) => `${f.location!.line}:${f.location!.col} ${f.message}`)).toEqual([
      "6:42 spec.trafficPolicy.loadBalancer.simple `PASSTHROUGH` is recognised but not applied by this meshbox version: requests are balanced with LEAST_REQUEST (Istio's default), not sent to the address the caller asked for",
      '21:17 spec.servers[3].tls.mode `SIMPLE` is recognised but not applied by this meshbox version: the ingress terminates no TLS (it serves PASSTHROUGH servers, routed by SNI): this server gets no traffic',
    ]);
  });

  it('says nothing about fields meshbox applies: the bundled sample has no such warning', async () => {
    const r = await validatePaths([sampleMeshFile()]);
    expect(r.resources.length).toBeGreaterThan(0);
    expect(withCode(r.findings, 'FIELD_NOT_APPLIED')).toEqual([]);
  });

  it('meshbox validate prints them with file:line:col and exits 0 (warnings only)', async () => {
    const out: string[] = [];
    const exit = await runValidate([EVERY], {}, { out: (l) => out.push(l), err: () => undefined });
    expect(exit).toBe(0);
    expect(out).toContain(`${EVERY}:14:7: warning MB1117 [VirtualService default/shop-route]: spec.http[0].match[0].name is recognised but not applied by this meshbox version: access logs show the route name only`);
    expect(out.at(-1)).toBe(`1 file, 6 resources: 0 errors, ${MARKED.length} warnings`);
  });

  it('the README table lists exactly the marked fields', () => {
    const readme = readFileSync('README.md', 'utf8');
    const start = readme.indexOf('<!-- not-applied:start');
    const end = readme.indexOf('<!-- not-applied:end -->');
    expect(start).toBeGreaterThan(0);
    const rows = readme
      .slice(start, end)
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| kind'))
      .map((l) => l.split(' | ').map((c) => c.replace(/^\| |`| \|$/g, '').trim()));
    expect(rows).toEqual(MARKED.map((f) => [f.kind, f.field, f.example, f.instead.replace(/`/g, '')]));
  });
});

import { describe, expect, it } from 'vitest';
import { doc, expectOne, expectValid, withCode } from './helpers.js';

const dr = (spec: string): string => doc('DestinationRule', spec);

describe('DestinationRule schema', () => {
  it('accepts a full, valid DestinationRule', () => {
    const r = expectValid(
      dr(`
host: callme-service
trafficPolicy:
  loadBalancer: {simple: LEAST_REQUEST, warmupDurationSecs: 10s}
  connectionPool:
    tcp: {maxConnections: 100, connectTimeout: 30ms, tcpKeepalive: {time: 7200s, interval: 75s, probes: 9}}
    http: {http1MaxPendingRequests: 1, http2MaxRequests: 1000, maxRequestsPerConnection: 1, maxRetries: 0, idleTimeout: 1h, h2UpgradePolicy: DO_NOT_UPGRADE}
  outlierDetection: {consecutive5xxErrors: 3, consecutiveGatewayErrors: 2, interval: 30s, baseEjectionTime: 1m, maxEjectionPercent: 100, minHealthPercent: 0}
  tls: {mode: ISTIO_MUTUAL}
  portLevelSettings:
  - port: {number: 8080}
    loadBalancer:
      consistentHash: {httpCookie: {name: user, ttl: 0s}, ringHash: {minimumRingSize: 1024}}
  retryBudget: {percent: 20, minRetryConcurrency: 3}
subsets:
- name: v1
  labels: {version: v1}
- name: v2
  labels: {version: v2}
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
exportTo: ["."]
`),
    );
    expect(r.resources[0]!.kind).toBe('DestinationRule');
  });

  it('requires host, subset names', () => {
    expectOne(dr('subsets: []'), 'MISSING_FIELD', { at: '5:1', message: 'spec: missing required field `host`' });
    expectOne(dr('host: a\nsubsets:\n- labels: {version: v1}'), 'MISSING_FIELD', { atText: 'labels', message: 'spec.subsets[0]: missing required field `name`' });
  });

  it('checks subset names and label values', () => {
    expectOne(dr('host: a\nsubsets:\n- name: V1\n  labels: {version: v1}'), 'INVALID_NAME', { atText: 'V1', hint: '`v1`' });
    expectOne(dr('host: a\nsubsets:\n- name: v1\n  labels: {version: 1}'), 'WRONG_TYPE', { atText: '1}', hint: 'quote the value' });
    expectOne(dr('host: a\nsubsets:\n- name: v1\n  labels: {"bad key!": v1}'), 'INVALID_NAME', { atText: '"bad key!"', message: 'is not a valid label name' });
  });

  it('rejects duplicate subset names', () => {
    expectOne(dr('host: a\nsubsets:\n- name: v1\n- name: v1'), 'DUPLICATE_SUBSET', { at: '9:11', message: 'subset name `v1` is already used by spec.subsets[0]' });
  });

  it('checks load balancer enums and oneofs', () => {
    expectOne(dr('host: a\ntrafficPolicy: {loadBalancer: {simple: round_robin}}'), 'VALUE_NOT_ALLOWED', { atText: 'round_robin', hint: 'did you mean `ROUND_ROBIN`?' });
    expectOne(dr('host: a\ntrafficPolicy: {loadBalancer: {simple: RANDOM, consistentHash: {useSourceIp: true}}}'), 'CONFLICTING_FIELDS', { atText: 'consistentHash', message: '`consistentHash` cannot be used together with `simple`' });
    expectOne(dr('host: a\ntrafficPolicy: {loadBalancer: {consistentHash: {}}}'), 'MISSING_ONE_OF', { message: 'needs one of `httpHeaderName`, `httpCookie`, `useSourceIp` or `httpQueryParameterName`' });
    expectOne(dr('host: a\ntrafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x, useSourceIp: true}}}'), 'CONFLICTING_FIELDS', { atText: 'useSourceIp' });
    expectOne(dr('host: a\ntrafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x, ringHash: {}, maglev: {}}}}'), 'CONFLICTING_FIELDS', { atText: 'maglev' });
    expectOne(dr('host: a\ntrafficPolicy: {loadBalancer: {consistentHash: {httpCookie: {path: /}}}}'), 'MISSING_FIELD', { message: 'missing required field `name`' });
    expectOne(dr('host: a\ntrafficPolicy:\n  connectionPool: {http: {h2UpgradePolicy: upgrade}}'), 'VALUE_NOT_ALLOWED', { hint: '`UPGRADE`' });
  });

  it('checks durations, ranges and integer types', () => {
    expectOne(dr('host: a\ntrafficPolicy: {outlierDetection: {interval: 0s}}'), 'INVALID_DURATION', { message: 'must be at least 1ms' });
    expectOne(dr('host: a\ntrafficPolicy: {outlierDetection: {baseEjectionTime: 30}}'), 'WRONG_TYPE', { hint: '`30s`' });
    expectOne(dr('host: a\ntrafficPolicy: {outlierDetection: {maxEjectionPercent: 101}}'), 'OUT_OF_RANGE', { message: 'between 0 and 100' });
    expectOne(dr('host: a\ntrafficPolicy: {connectionPool: {http: {maxRetries: "0"}}}'), 'WRONG_TYPE', { hint: 'remove the quotes' });
    expectOne(dr('host: a\ntrafficPolicy: {connectionPool: {tcp: {connectTimeout: 10}}}'), 'WRONG_TYPE', { hint: 'unit' });
    expectOne(dr('host: a\ntrafficPolicy: {connectionPool: {tcp: {maxConnections: 1.5}}}'), 'WRONG_TYPE', { hint: 'whole number' });
  });

  it('needs a port in portLevelSettings', () => {
    expectOne(dr('host: a\ntrafficPolicy:\n  portLevelSettings:\n  - loadBalancer: {simple: RANDOM}'), 'MISSING_FIELD', { message: 'missing required field `port`' });
  });

  it('checks TLS: MUTUAL needs client certificates unless credentialName is set', () => {
    expectValid(dr('host: a\ntrafficPolicy: {tls: {mode: MUTUAL, credentialName: client-secret}}'));
    expectValid(dr('host: a\ntrafficPolicy: {tls: {mode: MUTUAL, clientCertificate: /c.pem, privateKey: /k.pem}}'));
    const text = dr('host: a\ntrafficPolicy:\n  tls: {mode: MUTUAL, clientCertificate: /c.pem}');
    expectOne(text, 'MISSING_FIELD', { atText: 'tls', message: 'missing required field `privateKey` (needed with mode MUTUAL when credentialName is not set)' });
    expectOne(dr('host: a\ntrafficPolicy: {tls: {mode: STRICT}}'), 'VALUE_NOT_ALLOWED', { message: 'must be one of `DISABLE`, `SIMPLE`, `MUTUAL` or `ISTIO_MUTUAL`' });
  });

  it('locality settings take distribute or failover, not both', () => {
    expectOne(
      dr('host: a\ntrafficPolicy:\n  loadBalancer:\n    localityLbSetting: {distribute: [{from: "a/*", to: {"a/*": 100}}], failover: [{from: a, to: b}]}'),
      'CONFLICTING_FIELDS',
      { atText: 'failover' },
    );
  });

  it('finds unknown fields deep inside subset policies', () => {
    expectOne(dr('host: a\nsubsets:\n- name: v1\n  trafficPolicy:\n    outlierDetection: {consecutive5xxError: 3}'), 'UNKNOWN_FIELD', {
      atText: 'consecutive5xxError',
      message: 'spec.subsets[0].trafficPolicy.outlierDetection: unknown field `consecutive5xxError`',
      hint: 'did you mean `consecutive5xxErrors`?',
    });
  });

  it('accepts deprecated consecutiveErrors, minimumRingSize and LEAST_CONN with warnings', () => {
    const r = expectValid(
      dr('host: a\ntrafficPolicy:\n  loadBalancer: {simple: LEAST_CONN}\n  outlierDetection: {consecutiveErrors: 5}\nsubsets:\n- name: v1\n  trafficPolicy:\n    loadBalancer: {consistentHash: {useSourceIp: true, minimumRingSize: 1024}}'),
    );
    const w = withCode(r.findings, 'DEPRECATED_FIELD');
    expect(w.map((f) => f.message)).toEqual([
      'spec.trafficPolicy.outlierDetection.consecutiveErrors is deprecated (still accepted by Istio and meshbox)',
      'spec.subsets[0].trafficPolicy.loadBalancer.consistentHash.minimumRingSize is deprecated (still accepted by Istio and meshbox)',
      'spec.trafficPolicy.loadBalancer.simple: LEAST_CONN is deprecated (still accepted; it means LEAST_REQUEST)',
    ]);
    expect(w[0]!.hint).toContain('consecutive5xxErrors');
  });
});

/**
 * EnvoyFilter validation: the local rate limit patches meshbox applies, everything else
 * "recognised, not applied" (MB1117) at its location, and what Envoy would reject (MB1119).
 */
import { describe, expect, it } from 'vitest';
import { parseRulesText } from '../../../sandbox/config/rules-loader.js';

const ef = (patches: string): string => `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: rl, namespace: istio-system }
spec:
  workloadSelector: { labels: { app: backend } }
  configPatches:
${patches}`;

const bucket = (b: string) => `  - applyTo: HTTP_FILTER
    match: { context: SIDECAR_INBOUND, listener: { filterChain: { filter: { name: envoy.filters.network.http_connection_manager } } } }
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          stat_prefix: rl
          token_bucket: ${b}
`;

const findings = (text: string) => parseRulesText(text, 'ef.yaml').findings.map((f) => `${f.location?.line}:${f.location?.col} ${f.code} ${f.message}`);

describe('EnvoyFilter checks', () => {
  it('the local rate limit applies: no finding', () => {
    const r = parseRulesText(ef(bucket('{max_tokens: 4, tokens_per_fill: 4, fill_interval: 60s}')), 'ef.yaml');
    expect(r.findings).toEqual([]);
    expect(r.resources.map((x) => x.kind)).toEqual(['EnvoyFilter']);
  });

  it.each([
    ['{max_tokens: 0, tokens_per_fill: 4, fill_interval: 60s}', 'max_tokens must be a whole number above 0 (got 0): a zero bucket'],
    ['{max_tokens: 4, tokens_per_fill: 0, fill_interval: 60s}', 'tokens_per_fill must be a whole number above 0'],
    ['{max_tokens: 4, fill_interval: 10ms}', 'fill_interval must be at least 50ms'],
    ['{max_tokens: 4}', 'fill_interval is required'],
  ])('Envoy rejects the bucket %s: MB1119 at the field, the patch is not applied', (b, message) => {
    const [f] = findings(ef(bucket(b)));
    expect(f).toContain('MB1119');
    expect(f).toContain(message);
    expect(f).toMatch(/^16:\d+ /);
  });

  it('other patches are recognised, not applied, each at its location', () => {
    const out = findings(
      ef(`  - applyTo: CLUSTER
    match: { cluster: { service: ratelimit.default.svc.cluster.local } }
    patch: { operation: ADD, value: { name: rate_limit_cluster } }
  - applyTo: HTTP_FILTER
    match: { context: GATEWAY }
    patch:
      operation: INSERT_BEFORE
      value: { name: envoy.filters.http.ratelimit, typed_config: {} }
  - applyTo: HTTP_FILTER
    match: { listener: { filterChain: { filter: { name: envoy.filters.network.http_connection_manager, subFilter: { name: istio.nonexistent } } } } }
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, stat_prefix: x, descriptors: [] }
`),
    );
    expect(out).toEqual([
      '7:5 MB1117 spec.configPatches[0] `CLUSTER` is recognised but not applied by this meshbox version: meshbox applies EnvoyFilter patches for the local rate limit only (HTTP_FILTER envoy.filters.http.local_ratelimit, and HTTP_ROUTE / VIRTUAL_HOST typed_per_filter_config)',
      '10:5 MB1117 spec.configPatches[1] `HTTP_FILTER` `envoy.filters.http.ratelimit` is recognised but not applied by this meshbox version: meshbox applies the local rate limit filter (envoy.filters.http.local_ratelimit) only; this patch adds "envoy.filters.http.ratelimit"',
      expect.stringMatching(/^21:\d+ MB1117 spec\.configPatches\[2\]\.patch\.value\.typed_config\.descriptors is recognised but not applied by this meshbox version: descriptor buckets are not applied/),
      expect.stringMatching(/^16:\d+ MB1117 spec\.configPatches\[2\]\.match\.listener\.filterChain\.filter\.subFilter\.name `istio\.nonexistent` is recognised but not applied by this meshbox version: Istio's HTTP filter chain has no `istio\.nonexistent`: the patch inserts nothing/),
    ]);
  });

  it('is still an error to use an apiVersion that does not serve EnvoyFilter', () => {
    const text = ef(bucket('{max_tokens: 4, fill_interval: 1s}')).replace('networking.istio.io/v1alpha3', 'networking.istio.io/v1');
    expect(findings(text)[0]).toContain('MB1005');
  });
});

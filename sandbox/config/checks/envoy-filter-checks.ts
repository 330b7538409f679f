/**
 * EnvoyFilter beyond its schema: what meshbox applies of it is the local rate limit
 * (sandbox/rate-limit/envoy-filter-patches.ts). Every other patch, or part of one, is
 * "recognised, not applied" (MB1117) at its path; a local rate limit Envoy would reject (a zero
 * token bucket, a fill interval under 50ms, a per-route config without a bucket) is MB1119, and
 * that patch is not applied; a patch placed against a filter the chain does not have inserts
 * nothing, as in Istio.
 */
import type { Finding } from '../findings.js';
import { makeFinding } from '../codes.js';
import type { Locator } from '../schema-findings.js';
import { formatPath } from '../schema-findings.js';
import { notAppliedFinding } from '../not-applied.js';
import { interpretEnvoyFilter } from '../../rate-limit/envoy-filter-patches.js';
import { knownFilterNames } from '../../rate-limit/rate-limit-compile.js';
import { LOCAL_RATE_LIMIT_FILTER } from '../../rate-limit/local-rate-limit-config.js';

export function checkEnvoyFilter(spec: unknown, locator: Locator): Finding[] {
  const r = interpretEnvoyFilter(spec, () => '');
  const out: Finding[] = [];
  for (const n of r.notApplied) out.push(notAppliedFinding(n.path, n.message, locator, n.what));
  for (const p of r.problems) {
    out.push(
      makeFinding('ENVOY_CONFIG_REJECTED', `${formatPath(p.path)}: ${p.message}; Envoy rejects this configuration (NACK), so meshbox does not apply the patch`, {
        hint: 'give the token bucket max_tokens and tokens_per_fill above 0 and a fill_interval of at least 50ms, e.g. {max_tokens: 4, tokens_per_fill: 4, fill_interval: 60s}',
        location: locator.locate(p.path, { key: false }),
      }),
    );
  }
  const known = knownFilterNames();
  for (const p of r.filterPatches) {
    if (p.position.op === 'first' || known.has(p.position.filter) || p.position.filter.startsWith(LOCAL_RATE_LIMIT_FILTER)) continue;
    const path = ['spec', 'configPatches', p.index, 'match', 'listener', 'filterChain', 'filter', 'subFilter', 'name'];
    out.push(notAppliedFinding(path, `Istio's HTTP filter chain has no \`${p.position.filter}\`: the patch inserts nothing`, locator, `\`${p.position.filter}\``));
  }
  return out;
}

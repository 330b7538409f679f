/**
 * At apply time: every `jwksUri` of the applied RequestAuthentications is fetched once (with its
 * rule's timeout, at most 5 s), in the background, and one that does not answer with a JWKS is a
 * warning (MB2041) at its file:line:col. The rules are applied either way: at run time its
 * tokens get Envoy's 401 `Jwks remote fetch is failed` until it answers.
 */
import type { Finding } from '../config/findings.js';
import { makeFinding } from '../config/codes.js';
import { parseDuration } from '../config/duration.js';
import type { LoadedResource } from '../config/resource.js';
import { DEFAULT_JWKS_TIMEOUT_MS, type RequestAuthenticationSpec } from './jwt-rule.js';
import { JwksCache } from './jwt-jwks.js';

export async function probeJwksUris(resources: readonly LoadedResource[], cache: JwksCache = new JwksCache()): Promise<Finding[]> {
  const out: Array<Promise<Finding | undefined>> = [];
  for (const r of resources) {
    if (r.kind !== 'RequestAuthentication') continue;
    const spec = r.spec as RequestAuthenticationSpec;
    (spec.jwtRules ?? []).forEach((rule, i) => {
      if (!rule.jwksUri) return;
      let timeoutMs = DEFAULT_JWKS_TIMEOUT_MS;
      try {
        if (rule.timeout) timeoutMs = Math.min(parseDuration(rule.timeout), DEFAULT_JWKS_TIMEOUT_MS);
      } catch {
        // the schema already reported it
      }
      out.push(
        cache.get({ jwksUri: rule.jwksUri, timeoutMs }).then((res) =>
          res.ok
            ? undefined
            : makeFinding('JWKS_URI_UNREACHABLE', `spec.jwtRules[${i}].jwksUri: ${res.error}: tokens of issuer ${rule.issuer} get 401 \`Jwks remote fetch is failed\` until it answers`, {
                hint: 'start the JWKS server, or fix the URL (`meshbox token --jwks` prints the local issuer\'s JWKS for an inline `jwks:`)',
                location: r.locate(['spec', 'jwtRules', i, 'jwksUri']),
                resource: { kind: r.kind, name: r.metadata.name, namespace: r.metadata.namespace },
              }),
        ),
      );
    });
  }
  return (await Promise.all(out)).filter((f): f is Finding => f !== undefined);
}

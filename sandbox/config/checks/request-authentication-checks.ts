/**
 * RequestAuthentication rules beyond the schema: an inline `jwks` must be a JSON Web Key Set of
 * public keys, a `jwksUri` an http(s) URL; a rule with neither would need OpenID discovery of
 * its issuer, which meshbox does not do (its tokens get 401 `Jwks remote fetch is failed`),
 * except for its own local issuer `meshbox.local`, whose keys it knows.
 */
import type { Finding } from '../findings.js';
import { makeFinding } from '../codes.js';
import type { Locator } from '../schema-findings.js';
import { notAppliedFinding } from '../not-applied.js';
import { listAt, strAt } from './guards.js';
import { parseJwks } from '../../security/jwt-jwks.js';
import { LOCAL_ISSUER } from '../../security/token-issuer.js';

export function checkRequestAuthentication(spec: unknown, locator: Locator): Finding[] {
  const out: Finding[] = [];
  listAt(spec, 'jwtRules').forEach((rule, i) => {
    const base = ['spec', 'jwtRules', i];
    const jwks = strAt(rule, 'jwks');
    const uri = strAt(rule, 'jwksUri');
    if (jwks !== undefined) {
      const r = parseJwks(jwks);
      if (!r.ok) out.push(makeFinding('INVALID_JWKS', `spec.jwtRules[${i}].jwks: ${r.error}`, { hint: 'paste the issuer\'s public JWKS (`{"keys": [...]}`), e.g. the output of `meshbox token --jwks`', location: locator.locate([...base, 'jwks']) }));
    }
    if (uri !== undefined) {
      let ok = false;
      try {
        const u = new URL(uri);
        ok = u.protocol === 'http:' || u.protocol === 'https:';
      } catch {
        ok = false;
      }
      if (!ok) out.push(makeFinding('INVALID_JWKS_URI', `spec.jwtRules[${i}].jwksUri: ${JSON.stringify(uri)} is not an http(s) URL`, { hint: 'write e.g. `http://127.0.0.1:15000/.well-known/jwks.json`', location: locator.locate([...base, 'jwksUri']) }));
    }
    const issuer = strAt(rule, 'issuer');
    if (jwks === undefined && uri === undefined && issuer !== undefined && issuer !== LOCAL_ISSUER) {
      out.push(notAppliedFinding([...base], 'meshbox does not discover JWKS from the issuer (OpenID discovery): its tokens get 401 `Jwks remote fetch is failed`; set `jwks` or `jwksUri`', locator, 'without jwks or jwksUri'));
    }
  });
  return out;
}

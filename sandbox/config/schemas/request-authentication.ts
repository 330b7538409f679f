/**
 * JSON Schema of RequestAuthentication `spec` (istio/api security/v1 request_authentication.proto).
 * JWKS contents are checked in checks/request-authentication-checks.ts.
 */
import { bool, duration, list, notApplied, obj, str, strings } from './json-schema.js';
import type { JsonSchema } from './json-schema.js';
import { workloadSelector } from './common.js';
import { atMostOneOf } from './json-schema.js';

const jwtHeader: JsonSchema = obj(
  'JWTHeader',
  'A header carrying the token.',
  { name: str('Header name, e.g. `x-jwt-assertion`.', { minLength: 1 }), prefix: str('Text before the token, e.g. `Bearer `.') },
  { required: ['name'] },
);

const jwtRule: JsonSchema = obj(
  'JWTRule',
  'How tokens of one issuer are found and verified.',
  {
    issuer: str('The `iss` of the tokens, e.g. `https://accounts.example.com` (meshbox token: `meshbox.local`).', { minLength: 1 }),
    audiences: strings('Accepted `aud` values; none: any audience.'),
    jwksUri: str('URL of the JWKS, fetched over HTTP (and cached).', { minLength: 1 }),
    jwks: str('The JWKS itself, as JSON text.', { minLength: 1 }),
    fromHeaders: list(jwtHeader, 'Headers carrying the token (default `Authorization: Bearer <token>`).'),
    fromParams: strings('Query parameters carrying the token (default `access_token`).'),
    fromCookies: strings('Cookies carrying the token.'),
    outputPayloadToHeader: str('Header that gets the verified payload (base64url JSON).'),
    outputClaimToHeaders: list(
      obj('ClaimToHeader', 'Copies a claim into a header.', { header: str('Header name.', { minLength: 1 }), claim: str('Claim name.', { minLength: 1 }) }, { required: ['header', 'claim'] }),
      'Claims copied into headers of the request to the app.',
    ),
    forwardOriginalToken: bool('Keep the token in the request to the app (default false: removed).'),
    timeout: duration('JWKS fetch timeout (default 5s).', true),
    spaceDelimitedClaims: strings('Claims whose string value is a space-separated list (besides `scope` and `permission`), matched per item in `request.auth.claims[...]`.'),
  },
  { required: ['issuer'], rules: [atMostOneOf('jwksUri', 'jwks')] },
);

export const requestAuthenticationSpec: JsonSchema = obj('RequestAuthenticationSpec', 'Which JWTs a workload accepts: invalid tokens are rejected (401), requests without one pass without identity.', {
  selector: workloadSelector,
  targetRef: notApplied({ type: 'object', description: 'A gateway or service the policy attaches to.' }, 'policies select workloads (sidecars and the ingress gateway) by `selector` only'),
  targetRefs: notApplied({ type: 'array', description: 'Gateways or services the policy attaches to.' }, 'policies select workloads (sidecars and the ingress gateway) by `selector` only'),
  jwtRules: list(jwtRule, 'One rule per issuer.'),
});

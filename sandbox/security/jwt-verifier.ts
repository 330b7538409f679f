/**
 * Verifies one JWT against the jwtRules of a workload, in jwt_verify_lib's order, each failure
 * with Envoy's message: the form (three base64url sections, JSON header and payload), the issuer
 * (a rule must name it), the time constraints (`exp`, `nbf`, 60 s clock skew), the audiences (when
 * the rule lists some), then the key (by `kid` and `alg`) and the signature. Signatures are
 * checked by jose (RS256/384/512, PS256/384/512, ES256/384/512, EdDSA).
 */
import { compactVerify, decodeJwt, decodeProtectedHeader, importJWK, type JWK, type JWTPayload } from 'jose';
import type { JwksCache } from './jwt-jwks.js';
import { JWT_MESSAGES, type JwtMessage } from './jwt-messages.js';
import type { JwtRuleConfig } from './jwt-rule.js';
import type { JwtIdentity } from './authz-types.js';

/** Envoy's default clock_skew_seconds */
export const CLOCK_SKEW_S = 60;

const SUPPORTED_ALGS = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);

export type VerifyResult = { ok: true; identity: JwtIdentity; payload: JWTPayload; rule: JwtRuleConfig } | { ok: false; message: JwtMessage; why: string; rule?: JwtRuleConfig };

function fail(message: JwtMessage, why: string, rule?: JwtRuleConfig): VerifyResult {
  return { ok: false, message, why, ...(rule ? { rule } : {}) };
}

type ImportedKey = Awaited<ReturnType<typeof importJWK>>;
/** imported keys by JWK object (the cached JWKS keeps its objects), so a key is imported once */
const imported = new WeakMap<JWK, Map<string, Promise<ImportedKey>>>();

function importedKey(jwk: JWK, alg: string): Promise<ImportedKey> {
  let byAlg = imported.get(jwk);
  if (!byAlg) imported.set(jwk, (byAlg = new Map()));
  let key = byAlg.get(alg);
  if (!key) {
    key = importJWK(jwk, alg);
    key.catch(() => byAlg!.delete(alg));
    byAlg.set(alg, key);
  }
  return key;
}

/** a key may verify `alg` by its type (and curve), and its own `alg` when it has one */
function keyFits(key: JWK, alg: string): boolean {
  if (key.alg !== undefined && key.alg !== alg) return false;
  if (key.use !== undefined && key.use !== 'sig') return false;
  if (alg.startsWith('RS') || alg.startsWith('PS')) return key.kty === 'RSA';
  if (alg === 'ES256') return key.kty === 'EC' && key.crv === 'P-256';
  if (alg === 'ES384') return key.kty === 'EC' && key.crv === 'P-384';
  if (alg === 'ES512') return key.kty === 'EC' && key.crv === 'P-521';
  if (alg === 'EdDSA') return key.kty === 'OKP' && (key.crv === 'Ed25519' || key.crv === 'Ed448');
  return false;
}

export function audiencesOf(payload: JWTPayload): string[] {
  const aud = payload.aud;
  return typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
}

export async function verifyJwt(token: string, rules: readonly JwtRuleConfig[], jwksCache: JwksCache, nowMs: number): Promise<VerifyResult> {
  const sections = token.split('.');
  if (sections.length !== 3) return fail(JWT_MESSAGES.badFormat, `the token has ${sections.length} section(s)`);
  let header: ReturnType<typeof decodeProtectedHeader>;
  let payload: JWTPayload;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return fail(JWT_MESSAGES.headerParseError, 'the header is not base64url JSON');
  }
  try {
    payload = decodeJwt(token);
  } catch {
    return fail(JWT_MESSAGES.payloadParseError, 'the payload is not base64url JSON');
  }
  const iss = typeof payload.iss === 'string' ? payload.iss : '';
  const rule = rules.find((r) => r.issuer === iss);
  if (!rule) return fail(JWT_MESSAGES.unknownIssuer, `issuer ${JSON.stringify(iss)} is not one of ${JSON.stringify(rules.map((r) => r.issuer))}`);
  const now = Math.floor(nowMs / 1000);
  if (typeof payload.nbf === 'number' && payload.nbf > now + CLOCK_SKEW_S) return fail(JWT_MESSAGES.notYetValid, `nbf ${new Date(payload.nbf * 1000).toISOString()} is in the future`, rule);
  if (typeof payload.exp === 'number' && payload.exp + CLOCK_SKEW_S < now) return fail(JWT_MESSAGES.expired, `exp ${new Date(payload.exp * 1000).toISOString()} has passed`, rule);
  const auds = audiencesOf(payload);
  if (rule.audiences.length > 0 && !auds.some((a) => rule.audiences.includes(a))) {
    return fail(JWT_MESSAGES.audienceNotAllowed, `aud ${JSON.stringify(auds)} is not one of ${JSON.stringify(rule.audiences)}`, rule);
  }
  const alg = typeof header.alg === 'string' ? header.alg : '';
  if (!SUPPORTED_ALGS.has(alg)) return fail(JWT_MESSAGES.algNotImplemented, `alg ${JSON.stringify(alg)} is not supported`, rule);
  const jwks = await jwksCache.get(rule);
  if (!jwks.ok) return fail(JWT_MESSAGES.remoteFetchFailed, jwks.error, rule);
  const candidates = jwks.jwks.keys.filter((k) => (header.kid === undefined || k.kid === undefined || k.kid === header.kid) && keyFits(k, alg));
  if (candidates.length === 0) return fail(JWT_MESSAGES.noMatchingKey, `no key for kid ${JSON.stringify(header.kid ?? null)} and alg ${alg}`, rule);
  for (const jwk of candidates) {
    try {
      const key = await importedKey(jwk, alg);
      await compactVerify(token, key, { algorithms: [alg] });
      const identity: JwtIdentity = {
        principal: `${iss}/${typeof payload.sub === 'string' ? payload.sub : ''}`,
        claims: payload as Record<string, unknown>,
        audiences: auds,
        ...(typeof payload['azp'] === 'string' ? { presenter: payload['azp'] } : {}),
        ...(rule.spaceDelimitedClaims?.length ? { spaceDelimitedClaims: rule.spaceDelimitedClaims } : {}),
      };
      return { ok: true, identity, payload, rule };
    } catch {
      // try the next key that fits
    }
  }
  return fail(JWT_MESSAGES.verificationFails, `the signature does not verify with ${candidates.length} key(s) of the JWKS`, rule);
}

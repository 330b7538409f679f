/**
 * The verifier's status messages, exactly as Envoy's jwt_authn filter answers them
 * (google/jwt_verify_lib src/status.cc), and the local reply they make: 401 (403 for an audience
 * mismatch), the message as the body, `www-authenticate: Bearer realm="<url>", error="invalid_token"`
 * and details `jwt_authn_access_denied{<message, spaces as _>}`.
 */
import type { LocalReply } from '../proxy/local-reply.js';

export const JWT_MESSAGES = {
  missing: 'Jwt is missing',
  expired: 'Jwt is expired',
  notYetValid: 'Jwt not yet valid',
  verificationFails: 'Jwt verification fails',
  unknownIssuer: 'Jwt issuer is not configured',
  audienceNotAllowed: 'Audiences in Jwt are not allowed',
  badFormat: 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
  headerParseError: 'Jwt header is an invalid JSON',
  payloadParseError: 'Jwt payload is an invalid JSON',
  algNotImplemented: 'Jwt header [alg] is not supported',
  noMatchingKey: "Jwks doesn't have key to match kid or alg from Jwt",
  remoteFetchFailed: 'Jwks remote fetch is failed',
} as const;

export type JwtMessage = (typeof JWT_MESSAGES)[keyof typeof JWT_MESSAGES];

export function jwtDeniedReply(message: JwtMessage, realm: string): LocalReply {
  return {
    status: message === JWT_MESSAGES.audienceNotAllowed ? 403 : 401,
    body: message,
    details: `jwt_authn_access_denied{${message.replace(/\s/g, '_')}}`,
    headers: { 'www-authenticate': `Bearer realm="${realm}", error="invalid_token"` },
  };
}

/** Envoy's RBAC filter denial: 403 `RBAC: access denied` */
export function rbacDeniedReply(details: string): LocalReply {
  return { status: 403, body: 'RBAC: access denied', details };
}

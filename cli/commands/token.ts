/**
 * `meshbox token --sub alice [--aud callme-service]... [--claim group=dev]... [--expires 1h]`:
 * prints a JWT signed by the local issuer (`meshbox.local`, see sandbox/security/token-issuer.ts),
 * so RequestAuthentication and AuthorizationPolicy can be tried without an identity provider:
 *
 *   curl -H "Authorization: Bearer $(meshbox token --sub alice)" http://127.0.0.1:8080/...
 *
 * `--expires -1h` mints an expired token (to see the 401); `--jwks` prints the issuer's public
 * JWKS instead, for an inline `jwks:`; the running sandbox serves it at /.well-known/jwks.json.
 */
import { parseDuration } from '../../sandbox/config/duration.js';
import { MeshError } from '../../sandbox/errors.js';
import { JWKS_PATH, LOCAL_ISSUER, TokenIssuer } from '../../sandbox/security/token-issuer.js';
import type { Io } from '../output.js';

export interface TokenOptions {
  sub?: string;
  aud?: string[];
  claim?: string[];
  expires?: string;
  jwks?: boolean;
}

/** `k=v`: v as JSON when it is JSON (numbers, booleans, lists), else the text */
export function parseClaim(text: string): [string, unknown] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new MeshError('MESH_ERR_USAGE', [`--claim ${JSON.stringify(text)} is not name=value`], { hint: 'write e.g. --claim group=dev or --claim \'roles=["a","b"]\'' });
  const name = text.slice(0, eq);
  const raw = text.slice(eq + 1);
  if (['iss', 'sub', 'aud', 'exp', 'iat'].includes(name)) throw new MeshError('MESH_ERR_USAGE', [`--claim ${name}: set by meshbox token itself`], { hint: 'use --sub, --aud and --expires' });
  try {
    return [name, JSON.parse(raw) as unknown];
  } catch {
    return [name, raw];
  }
}

function lifetimeSeconds(text: string | undefined): number {
  if (text === undefined) return 3600;
  const negative = text.startsWith('-');
  let ms: number;
  try {
    ms = parseDuration(negative ? text.slice(1) : text);
  } catch (e) {
    throw new MeshError('MESH_ERR_USAGE', [`--expires ${text}: ${(e as Error).message}`], { hint: 'write a duration such as 30m, 1h or 24h (-1h for an expired token)' });
  }
  return Math.round(((negative ? -1 : 1) * ms) / 1000);
}

export async function runToken(o: TokenOptions, io: Io): Promise<number> {
  const issuer = TokenIssuer.local();
  if (o.jwks) {
    io.out(JSON.stringify(issuer.jwks()));
    return 0;
  }
  if (!o.sub) throw new MeshError('MESH_ERR_USAGE', ['meshbox token needs --sub (the subject, e.g. alice)'], { hint: 'meshbox token --sub alice [--aud callme-service] [--claim group=dev] [--expires 1h]' });
  const claims = Object.fromEntries((o.claim ?? []).map(parseClaim));
  const token = await issuer.mint({ sub: o.sub, aud: o.aud ?? [], claims, expiresInS: lifetimeSeconds(o.expires) });
  io.out(token);
  io.err(`issuer ${LOCAL_ISSUER}, request principal ${LOCAL_ISSUER}/${o.sub}; its JWKS: jwksUri http://127.0.0.1:<admin port>${JWKS_PATH} of the running sandbox, or \`meshbox token --jwks\` for an inline jwks`);
  return 0;
}

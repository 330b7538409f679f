/**
 * The local token issuer, so a developer can try RequestAuthentication and AuthorizationPolicy
 * without an identity provider: one ES256 key pair kept in the user's state folder
 * (`<state>/issuer/key.jwk.json`, mode 0600 in a 0700 folder, made on first use), issuer
 * `meshbox.local`. `meshbox token` signs with it; the sandbox's admin API serves its public
 * JWKS at `/.well-known/jwks.json`, and `meshbox token --jwks` prints it for an inline `jwks:`.
 * A jwtRule for issuer `meshbox.local` with neither `jwks` nor `jwksUri` gets these keys from the
 * control plane, the way istiod discovers an issuer's JWKS and hands it to the proxies.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JSONWebKeySet, type JWK } from 'jose';
import { stateDir } from '../runtime/sandbox-state.js';
import { MeshError } from '../errors.js';

export const LOCAL_ISSUER = 'meshbox.local';
export const JWKS_PATH = '/.well-known/jwks.json';

export interface MintOptions {
  sub: string;
  aud?: string[];
  claims?: Record<string, unknown>;
  /** lifetime in seconds (negative: already expired, to try the 401) */
  expiresInS?: number;
  nowMs?: number;
}

export class TokenIssuer {
  private constructor(
    private readonly privateJwk: JWK,
    readonly issuer: string,
  ) {}

  /** an issuer with a fresh key (tests) */
  static async generate(issuer = LOCAL_ISSUER, alg: 'ES256' | 'RS256' | 'PS256' | 'EdDSA' = 'ES256'): Promise<TokenIssuer> {
    const { privateKey } = await generateKeyPair(alg, { extractable: true });
    const jwk = await exportJWK(privateKey);
    jwk.alg = alg;
    jwk.kid = await calculateJwkThumbprint(jwk);
    return new TokenIssuer(jwk, issuer);
  }

  /** the local issuer of this user, its key made on first use */
  static local(dir = localIssuerDir()): TokenIssuer {
    return new TokenIssuer(localIssuerKey(dir), LOCAL_ISSUER);
  }

  get alg(): string {
    return this.privateJwk.alg ?? 'ES256';
  }

  /** the public JWKS (what a RequestAuthentication's `jwks` or `jwksUri` gives) */
  jwks(): JSONWebKeySet {
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = this.privateJwk;
    return { keys: [{ ...pub, use: 'sig' }] };
  }

  async mint(o: MintOptions): Promise<string> {
    const key = await importJWK(this.privateJwk, this.alg);
    const now = Math.floor((o.nowMs ?? Date.now()) / 1000);
    const jwt = new SignJWT({ ...(o.claims ?? {}) })
      .setProtectedHeader({ alg: this.alg, kid: this.privateJwk.kid!, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setSubject(o.sub)
      .setIssuedAt(now)
      .setExpirationTime(now + (o.expiresInS ?? 3600));
    if (o.aud && o.aud.length > 0) jwt.setAudience(o.aud.length === 1 ? o.aud[0]! : o.aud);
    return jwt.sign(key);
  }
}

export function localIssuerDir(): string {
  return path.join(stateDir(), 'issuer');
}

/** the private key of the local issuer (ES256), made and stored on first use */
export function localIssuerKey(dir = localIssuerDir()): JWK {
  const file = path.join(dir, 'key.jwk.json');
  try {
    if (existsSync(file)) {
      const jwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
      if (jwk.kty !== 'EC' || typeof jwk.d !== 'string') throw new Error('it holds no EC private key');
      return jwk;
    }
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = privateKey.export({ format: 'jwk' }) as JWK;
    // RFC 7638 thumbprint: the required members in lexicographic order
    jwk.kid = createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })).digest('base64url');
    jwk.alg = 'ES256';
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    writeFileSync(file, JSON.stringify(jwk), { mode: 0o600 });
    return jwk;
  } catch (e) {
    throw new MeshError('MESH_ERR_STATE_DIR', [dir, `the local token issuer's key ${file}: ${(e as Error).message}`], {
      hint: 'delete the file and a new key is made on next use (tokens signed with the old key stop verifying), or point MESHBOX_STATE_DIR at a folder of your own',
      cause: e,
    });
  }
}

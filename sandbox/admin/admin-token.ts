/**
 * The admin token: a random secret made at every `meshbox up`, required (as
 * `Authorization: Bearer <token>`) by every admin route that changes the sandbox.
 *
 * It lives beside the sandbox's record in the user's state folder
 * (`<state>/sandboxes/<sandbox>.token`, mode 0600 in a 0700 folder: see sandbox-state.ts), so the
 * meshbox CLI, a scenario attached to the sandbox and the user's own scripts (same user) can read
 * it, and no other local user, no web page and no app behind a sidecar can. `MESHBOX_ADMIN_TOKEN`
 * overrides the lookup (for a sandbox started with another state folder).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isAlive, listSandboxes, stateDir, tokenFileOf } from '../runtime/sandbox-state.js';
import { isLoopbackHostname } from './loopback.js';

export const ADMIN_TOKEN_ENV = 'MESHBOX_ADMIN_TOKEN';

/** 256 random bits, URL-safe */
export function generateAdminToken(): string {
  return randomBytes(32).toString('base64url');
}

/** the token of an `Authorization: Bearer <token>` header */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  return m?.[1];
}

/** compares in constant time (both sides hashed first, so their lengths leak nothing either) */
export function tokenMatches(expected: string, presented: string): boolean {
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(presented).digest();
  return timingSafeEqual(a, b);
}

export interface FoundToken {
  token: string;
  /** where it was read: the token file, or the environment variable */
  from: string;
}

/**
 * The token for the sandbox whose admin API is `adminUrl`: $MESHBOX_ADMIN_TOKEN, else the token
 * file of the running sandbox recorded with that address (loopback names are interchangeable:
 * `localhost:15000` finds the sandbox recorded as `127.0.0.1:15000`). A token is never sent to an
 * address that is not loopback.
 */
export function findAdminToken(adminUrl: string): FoundToken | undefined {
  let url: URL;
  try {
    url = new URL(adminUrl);
  } catch {
    return undefined;
  }
  if (!isLoopbackHostname(url.hostname)) return undefined;
  const fromEnv = process.env[ADMIN_TOKEN_ENV]?.trim();
  if (fromEnv) return { token: fromEnv, from: ADMIN_TOKEN_ENV };
  const port = url.port || '80';
  const matching = listSandboxes().filter((rec) => {
    if (!rec.adminUrl) return false;
    try {
      const r = new URL(rec.adminUrl);
      return (r.port || '80') === port && isLoopbackHostname(r.hostname);
    } catch {
      return false;
    }
  });
  // a live sandbox first: a dead one's record may still name the same port
  matching.sort((a, b) => Number(isAlive(b.ownerPid)) - Number(isAlive(a.ownerPid)));
  for (const rec of matching) {
    const file = tokenFileOf(rec.id);
    try {
      const token = readFileSync(file, 'utf8').trim();
      if (token) return { token, from: file };
    } catch {
      // no token file (a sandbox of an older meshbox, or one stopping): try the next
    }
  }
  return undefined;
}

/**
 * A 401 from the admin API, as a client shows it: the hint says where this client looked for
 * the token and how to point it at the right one (the sandbox's own hint assumes a hand-made request).
 */
export function explainTokenRefusal(adminUrl: string, body: unknown, sent: boolean): unknown {
  if (typeof body !== 'object' || body === null) return body;
  const b = body as { hint?: string; tokenFile?: string };
  const file = b.tokenFile ?? '<state>/sandboxes/<sandbox>.token';
  const hint = sent
    ? `the token meshbox read (${findAdminToken(adminUrl)?.from}) is not this sandbox's: set ${ADMIN_TOKEN_ENV} to the token in ${file}, or unset it`
    : `meshbox found no admin token for ${new URL(adminUrl).host} under ${path.join(stateDir(), 'sandboxes')}: run this with the MESHBOX_STATE_DIR the sandbox was started with, or set ${ADMIN_TOKEN_ENV} to the token in ${file}`;
  return { ...b, hint };
}

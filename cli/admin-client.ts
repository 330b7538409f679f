/**
 * A small client for a running sandbox's admin API (what `status`, `fault`, `workload` and
 * `apply` use). It sends the sandbox's admin token (`Authorization: Bearer`, read from the token
 * file beside the sandbox's record, or $MESHBOX_ADMIN_TOKEN), so the user never handles it.
 */
import http from 'node:http';
import { explainTokenRefusal, findAdminToken } from '../sandbox/admin/admin-token.js';
import { MeshError, meshErrorCodes, type MeshErrorCode } from '../sandbox/errors.js';
import { isAlive, listSandboxes } from '../sandbox/runtime/sandbox-state.js';

export interface AdminReply {
  status: number;
  body: unknown;
}

export function adminRequest(url: string, method = 'GET', body?: unknown, timeoutMs = 10_000): Promise<AdminReply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    // only the routes that change the sandbox need the token: it is not sent with the others
    const token = method === 'GET' ? undefined : findAdminToken(url)?.token;
    const req = http.request(
      url,
      {
        method,
        timeout: timeoutMs,
        agent: false,
        headers: {
          'user-agent': 'meshbox-cli',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // a text route
          }
          if (res.statusCode === 401) parsed = explainTokenRefusal(url, parsed, token !== undefined);
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e: NodeJS.ErrnoException) => reject(new MeshError('MESH_ERR_ADMIN_UNREACHABLE', [url, e.code ?? e.message])));
    req.end(payload);
  });
}

/** the admin URL: the flag, else the only running sandbox, else the default */
export function resolveAdmin(flag: string | undefined): string {
  if (flag) return flag.replace(/\/$/, '');
  const live = listSandboxes().filter((s) => isAlive(s.ownerPid) && s.adminUrl);
  if (live.length === 1) return live[0]!.adminUrl!;
  return 'http://127.0.0.1:15000';
}

/** throws the sandbox's own error message (with its hint) for a non-2xx answer */
export function expectOk(reply: AdminReply): unknown {
  if (reply.status >= 200 && reply.status < 300) return reply.body;
  const b = reply.body as { error?: string; hint?: string } | string;
  const message = typeof b === 'string' ? b.trim() : (b.error ?? `HTTP ${reply.status}`);
  throw new MeshError('MESH_ERR_USAGE', [message], typeof b === 'object' && b.hint ? { hint: b.hint } : {});
}

/** the sandbox's error (its code, message and hint) for a non-2xx answer body */
export function remoteError(status: number, body: unknown): MeshError {
  const b = body as { error?: string; hint?: string; code?: string } | string;
  const message = typeof b === 'string' ? b.trim() || `HTTP ${status}` : (b?.error ?? `HTTP ${status}`);
  const hint = typeof b === 'object' && b?.hint ? b.hint : undefined;
  const code = typeof b === 'object' && b?.code && (meshErrorCodes as string[]).includes(b.code) ? (b.code as MeshErrorCode) : 'MESH_ERR_USAGE';
  const err = new MeshError(code, [message, '', ''], hint ? { hint } : {});
  err.message = message;
  return err;
}

export interface AdminStream {
  /** resolves when the sandbox ends the stream (or `close()` is called) */
  done: Promise<void>;
  close(): void;
}

/**
 * A long-lived admin request whose answer is JSON lines (tap, port-forward): `onLine` gets each
 * parsed line. Rejects with the sandbox's own error for a non-2xx answer.
 */
export function adminStream(url: string, method: string, body: unknown, onLine: (line: Record<string, unknown>) => void): Promise<AdminStream> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    // as adminRequest: the token only for the routes that change the sandbox (port-forward)
    const token = method === 'GET' ? undefined : findAdminToken(url)?.token;
    let closed = false;
    const req = http.request(url, {
      method,
      agent: false,
      headers: {
        'user-agent': 'meshbox-cli',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
      },
    });
    req.on('response', (res) => {
      if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // plain text answer
          }
          if (res.statusCode === 401) parsed = explainTokenRefusal(url, parsed, token !== undefined);
          reject(remoteError(res.statusCode ?? 0, parsed));
        });
        return;
      }
      let rest = '';
      const done = new Promise<void>((end) => {
        res.on('data', (c: Buffer) => {
          rest += c.toString('utf8');
          let nl: number;
          while ((nl = rest.indexOf('\n')) >= 0) {
            const line = rest.slice(0, nl).trim();
            rest = rest.slice(nl + 1);
            if (!line) continue;
            try {
              onLine(JSON.parse(line) as Record<string, unknown>);
            } catch {
              // a line that is not JSON: ignore it
            }
          }
        });
        res.on('end', () => end());
        res.on('close', () => end());
        res.on('error', () => end());
      });
      resolve({
        done,
        close: () => {
          if (closed) return;
          closed = true;
          req.destroy();
        },
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (!closed) reject(new MeshError('MESH_ERR_ADMIN_UNREACHABLE', [url, e.code ?? e.message]));
    });
    req.end(payload);
  });
}

/**
 * caller-service endpoints: each calls the matching callme-service endpoint and answers
 * `I'm caller-service <version>. Calling... <callme body>` with callme's status passed through
 * (also for 4xx/5xx), or 502 `... Calling... error: <reason>` when callme cannot be reached.
 */
import type http from 'node:http';
import { type OutboundTarget, propagatedHeaders, send } from './outbound.js';
import { type Handler, pathOf, readBody, sendError, sendText } from './service-kit.js';
import { type GreeterClient, httpStatusOfGrpc } from './greeter-client.js';

export interface CallerContext {
  version: string;
  callme: OutboundTarget;
  /** how long one call to callme may take (connect to last byte) */
  timeoutMs: number;
  /** greeter-service over gRPC (`GET /caller/greet`) */
  greeter?: GreeterClient;
}

const REFERENCE_PATHS: Record<string, string> = {
  '/caller/ping': '/callme/ping',
  '/caller/ping-with-random-error': '/callme/ping-with-random-error',
  '/caller/ping-with-random-delay': '/callme/ping-with-random-delay',
};
const PASS_THROUGH_PREFIX = '/caller/callme/';
const PASS_THROUGH_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
/** request headers that describe the body, kept when the body is passed through */
const BODY_HEADERS = ['content-type', 'content-encoding', 'content-language'] as const;

export function createCallerHandler(ctx: CallerContext): Handler {
  const prefix = `I'm caller-service ${ctx.version}. Calling... `;

  const call = async (req: http.IncomingMessage, res: http.ServerResponse, method: string, path: string, body?: Buffer) => {
    const headers = propagatedHeaders(req.headers);
    if (body !== undefined) {
      for (const name of BODY_HEADERS) {
        const value = req.headers[name];
        if (value !== undefined) headers[name] = value;
      }
    }
    try {
      const answer = await send(ctx.callme, { method, path, headers, ...(body === undefined ? {} : { body }) }, ctx.timeoutMs);
      sendText(res, answer.status, prefix + answer.body);
    } catch (err) {
      sendText(res, 502, `${prefix}error: ${(err as Error).message}`);
    }
  };

  const greet = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!ctx.greeter) return sendError(req, res, 404);
    const name = new URL(req.url ?? '/', 'http://localhost').searchParams.get('name') ?? 'caller-service';
    try {
      const reply = await ctx.greeter.sayHello(name, req.headers, ctx.timeoutMs);
      sendText(res, 200, prefix + reply.message);
    } catch (err) {
      const e = err as { code?: number; details?: string; message: string };
      sendText(res, httpStatusOfGrpc(e.code ?? 2), `${prefix}error: grpc-status ${e.code ?? 2}: ${e.details ?? e.message}`);
    }
  };

  return async (req, res) => {
    const path = pathOf(req);
    if (path === '/caller/greet') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(req, res, 405, { Allow: 'GET, HEAD' });
      return greet(req, res);
    }
    const reference = REFERENCE_PATHS[path];
    if (reference !== undefined) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(req, res, 405, { Allow: 'GET, HEAD' });
      return call(req, res, 'GET', reference);
    }
    if (path.startsWith(PASS_THROUGH_PREFIX) && path.length > PASS_THROUGH_PREFIX.length) {
      const method = req.method ?? 'GET';
      if (!PASS_THROUGH_METHODS.includes(method)) return sendError(req, res, 405, { Allow: PASS_THROUGH_METHODS.join(', ') });
      const search = new URL(req.url ?? '/', 'http://localhost').search;
      const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
      const body = hasBody ? await readBody(req) : undefined;
      return call(req, res, method, `/callme/${path.slice(PASS_THROUGH_PREFIX.length)}${search}`, body);
    }
    sendError(req, res, 404);
  };
}

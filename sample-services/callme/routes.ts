/**
 * callme-service endpoints: the three of the reference CallmeController plus test extras.
 * Bodies are byte-for-byte those of the reference (including its missing space in
 * `I'm callme-service<INSTANCE_ID> <version>`).
 */
import type http from 'node:http';
import type { Random } from './random.js';
import { type Handler, pathOf, readBody, sendError, sendJson, sendText, sleepUnlessClosed } from './service-kit.js';

export interface CallmeContext {
  version: string;
  instanceId: string;
  random: Random;
}

interface Route {
  pattern: RegExp;
  methods: readonly string[];
  handle(req: http.IncomingMessage, res: http.ServerResponse, params: string[]): void | Promise<void>;
}

const GET = ['GET', 'HEAD'] as const;
const MAX_DELAY_MS = 600_000;

export function callmeRoutes(ctx: CallmeContext): Route[] {
  const hello = `I'm callme-service ${ctx.version}`;
  return [
    { pattern: /^\/callme\/ping$/, methods: GET, handle: (_req, res) => sendText(res, 200, hello) },
    {
      pattern: /^\/callme\/ping-with-random-error$/,
      methods: GET,
      handle: (_req, res) => {
        const r = ctx.random.nextInt(100);
        if (r % 2 === 0) sendText(res, 504, `Surprise ${ctx.instanceId} ${ctx.version}`);
        else sendText(res, 200, `I'm callme-service${ctx.instanceId} ${ctx.version}`);
      },
    },
    {
      pattern: /^\/callme\/ping-with-random-delay$/,
      methods: GET,
      handle: async (_req, res) => {
        await sleepUnlessClosed(ctx.random.nextInt(3000), res);
        sendText(res, 200, hello);
      },
    },
    {
      pattern: /^\/callme\/status\/(\d+)$/,
      methods: GET,
      handle: (req, res, [code]) => {
        const status = Number(code);
        if (status < 200 || status > 599) return sendError(req, res, 400);
        sendText(res, status, `${hello}: ${status}`);
      },
    },
    {
      pattern: /^\/callme\/delay\/(\d+)$/,
      methods: GET,
      handle: async (req, res, [ms]) => {
        const delay = Number(ms);
        if (delay > MAX_DELAY_MS) return sendError(req, res, 400);
        await sleepUnlessClosed(delay, res);
        sendText(res, 200, hello);
      },
    },
    {
      pattern: /^\/callme\/echo$/,
      methods: ['GET', 'HEAD', 'POST'],
      handle: async (req, res) => {
        const body = (await readBody(req)).toString('utf8');
        sendJson(res, 200, {
          version: ctx.version,
          instance: ctx.instanceId,
          method: req.method,
          url: req.url,
          headers: req.headers,
          body,
        });
      },
    },
  ];
}

/** Path match first (404 when none), then method (405 with `Allow`), like Spring MVC. */
export function createCallmeHandler(ctx: CallmeContext): Handler {
  const routes = callmeRoutes(ctx);
  return (req, res) => {
    const path = pathOf(req);
    for (const route of routes) {
      const match = route.pattern.exec(path);
      if (!match) continue;
      if (!route.methods.includes(req.method ?? '')) {
        return sendError(req, res, 405, { Allow: route.methods.join(', ') });
      }
      return route.handle(req, res, match.slice(1));
    }
    sendError(req, res, 404);
  };
}

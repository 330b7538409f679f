/**
 * `probe`: Chaos Toolkit's HTTP probe: `count` requests (default 1), each of which must answer
 * as `expect` says: a status (exact `200`, inclusive range `[200, 299]`, class `2xx`), a body
 * (regular expression) and a latency bound. Its requests are also a window for `expect`.
 */
import http from 'node:http';
import { int, obj, str } from '../../config/schemas/json-schema.js';
import type { JsonSchema } from '../../config/schemas/json-schema.js';
import type { StepSpec } from '../scenario-types.js';
import { scenarioFinding } from '../scenario-codes.js';
import { durationField, trafficTargetProperties } from '../schema-parts.js';
import { formatValue, toMs } from '../tolerance.js';
import type { StepType } from './step-type.js';
import { resolveTrafficTarget, type TrafficTargetConfig } from './traffic-target.js';

export type StatusTolerance = number | string | [number, number];

export interface ProbeConfig extends StepSpec, TrafficTargetConfig {
  count?: number;
  interval?: string;
  timeout?: string;
  expect?: { status?: StatusTolerance; body?: string; latency?: string };
}

export const statusTolerance: JsonSchema = {
  type: ['integer', 'string', 'array'],
  minimum: 100,
  maximum: 599,
  pattern: '^[1-5]xx$',
  items: int('Status bound.', 100, 599),
  minItems: 2,
  maxItems: 2,
  description: 'An exact status (`200`), a class (`2xx`) or inclusive bounds (`[200, 299]`).',
};

export function statusAccepted(status: number, t: StatusTolerance): boolean {
  if (Array.isArray(t)) return status >= t[0] && status <= t[1];
  if (typeof t === 'string') return Math.floor(status / 100) === Number(t[0]);
  return status === t;
}

export function describeStatus(t: StatusTolerance): string {
  return Array.isArray(t) ? `${t[0]}-${t[1]}` : String(t);
}

interface Answer {
  status: number;
  body: string;
  latencyMs: number;
  error?: string;
}

function send(url: string, method: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.request(url, { method, headers: body !== undefined ? { ...headers, 'content-length': String(Buffer.byteLength(body)) } : headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), latencyMs: performance.now() - started }));
      res.on('error', (e) => resolve({ status: 0, body: '', latencyMs: performance.now() - started, error: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs}ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ status: 0, body: '', latencyMs: performance.now() - started, error: e.code ?? e.message }));
    req.end(body);
  });
}

export const probe: StepType<ProbeConfig> = {
  type: 'probe',
  summary: 'HTTP probe: send `count` requests, each must answer with the expected status (and body, and latency).',
  properties: {
    ...trafficTargetProperties,
    count: int('How many requests (default 1).', 1, 10_000),
    interval: durationField('Pause between requests (default 0).'),
    timeout: durationField('Per-request timeout (default 5s).'),
    expect: obj('ProbeExpect', 'What every answer must be (default: status 200-399).', {
      status: statusTolerance,
      body: str('A regular expression the body must match, e.g. `callme-service v2`.'),
      latency: durationField('Each answer must come within this, e.g. `500ms`.'),
    }),
  },
  rules: [{ not: { anyOf: [{ required: ['url', 'service'] }, { required: ['url', 'path'] }] } }],
  title: (c) => `probe ${c.count ?? 1}x ${c.method ?? 'GET'} ${c.url ?? `${c.service ?? 'ingress'} ${c.path ?? '/'}`}`,
  check(config, ctx) {
    const pattern = config.expect?.body;
    if (pattern === undefined) return [];
    try {
      new RegExp(pattern);
      return [];
    } catch (e) {
      return [scenarioFinding('INVALID_VALUE', `expect.body is not a valid regular expression: ${(e as Error).message}`, ctx.at(['expect', 'body']))];
    }
  },
  async run(config, ctx) {
    const target = await resolveTrafficTarget(config, ctx);
    const count = config.count ?? 1;
    const timeoutMs = config.timeout !== undefined ? toMs(config.timeout) : 5000;
    const interval = config.interval !== undefined ? toMs(config.interval) : 0;
    const status: StatusTolerance = config.expect?.status ?? [200, 399];
    const body = config.expect?.body !== undefined ? new RegExp(config.expect.body) : undefined;
    const maxLatency = config.expect?.latency !== undefined ? toMs(config.expect.latency) : undefined;
    const traffic: { label: string; startedAt: number; endedAt?: number } = { label: `probe${config.name ? ` "${config.name}"` : ''}`, startedAt: await ctx.target.mark() };
    ctx.state.lastTraffic = traffic;
    const answers: Answer[] = [];
    const problems: string[] = [];
    for (let i = 0; i < count && !ctx.signal.aborted; i++) {
      if (i > 0 && interval > 0) await ctx.sleep(interval);
      const a = await send(target.url, config.method ?? 'GET', target.headers, config.body, timeoutMs);
      answers.push(a);
      const why: string[] = [];
      if (a.status === 0) why.push(`no answer (${a.error ?? 'error'})`);
      else if (!statusAccepted(a.status, status)) why.push(`status ${a.status}`);
      if (body && a.status !== 0 && !body.test(a.body)) why.push(`body ${JSON.stringify(a.body.slice(0, 80))} does not match /${body.source}/`);
      if (maxLatency !== undefined && a.latencyMs > maxLatency) why.push(`took ${formatValue(a.latencyMs, 'ms')}`);
      if (why.length) problems.push(`#${i + 1}: ${why.join(', ')}${a.status >= 400 && a.body ? ` (${JSON.stringify(a.body.trim().slice(0, 60))})` : ''}`);
    }
    await ctx.target.settle();
    traffic.endedAt = await ctx.target.mark();
    const expected = [`status ${describeStatus(status)}`, body ? `body /${body.source}/` : '', maxLatency !== undefined ? `within ${formatValue(maxLatency, 'ms')}` : ''].filter(Boolean).join(', ');
    const ok = answers.length - problems.length;
    const slowest = answers.length ? Math.max(...answers.map((a) => a.latencyMs)) : 0;
    const data = { target: target.url, answers: answers.map((a) => ({ status: a.status, latencyMs: Math.round(a.latencyMs * 10) / 10, ...(a.error ? { error: a.error } : {}) })) };
    if (problems.length === 0 && answers.length === count) {
      return { summary: `${target.label}: ${ok} of ${count} answered as expected (${expected}), slowest ${formatValue(slowest, 'ms')}`, data };
    }
    const shown = problems.slice(0, 3).join('; ') + (problems.length > 3 ? `; ${problems.length - 3} more` : '');
    return { summary: `${target.label}: expected ${expected}, but ${problems.length} of ${answers.length} did not: ${shown}`, failed: true, data };
  },
};

/**
 * `load`: HTTP load through the ingress gateway (or to a service, or a URL): open loop at `rate`
 * requests per second or closed loop with `concurrency` workers, for `duration` and/or
 * `maxRequests`. In the foreground (default) the step ends with the load; with `background: true`
 * it returns at once and the load runs on beside the next steps (`stop-load` ends or awaits it;
 * the method awaits what is left). Its `name` is the window `expect` looks at.
 */
import { bool, int, num } from '../../config/schemas/json-schema.js';
import { LoadGenerator, type LoadResult } from '../load-generator.js';
import type { LoadRun } from '../run-state.js';
import type { StepSpec } from '../scenario-types.js';
import { durationField, trafficTargetProperties } from '../schema-parts.js';
import { formatValue, toMs } from '../tolerance.js';
import type { StepType } from './step-type.js';
import { resolveTrafficTarget, type TrafficTargetConfig } from './traffic-target.js';

export interface LoadConfig extends StepSpec, TrafficTargetConfig {
  rate?: number;
  concurrency?: number;
  connections?: number;
  duration?: string;
  maxRequests?: number;
  timeout?: string;
  warmup?: string;
  background?: boolean;
}

function model(c: LoadConfig): string {
  const how = c.rate !== undefined ? `${c.rate} req/s` : `${c.concurrency} concurrent`;
  const bound = [c.duration !== undefined ? `for ${formatValue(toMs(c.duration), 'ms')}` : '', c.maxRequests !== undefined ? `max ${c.maxRequests} requests` : ''].filter(Boolean).join(', ');
  return `${how} ${bound}`.trim();
}

export function summarizeLoad(r: LoadResult): string {
  const statuses = Object.entries(r.statusCounts)
    .sort((a, b) => b[1] - a[1])
    .map(([s, n]) => `${s}: ${n}`)
    .join(', ');
  const errors = r.errors ? `, ${r.errors} without answer (${Object.entries(r.errorCounts).map(([e, n]) => `${e}: ${n}`).join(', ')})` : '';
  const lat = r.completed ? `, p50 ${formatValue(r.latencyMs.p50, 'ms')} p99 ${formatValue(r.latencyMs.p99, 'ms')}` : '';
  return `${r.sent} sent, ${r.completed} answered${statuses ? ` (${statuses})` : ''}${errors}${lat}, ${r.achievedRate.toFixed(1)} req/s`;
}

export function loadData(r: LoadResult): Record<string, unknown> {
  return {
    url: r.url,
    mode: r.mode,
    sent: r.sent,
    completed: r.completed,
    errors: r.errors,
    cancelled: r.cancelled,
    statusCounts: r.statusCounts,
    errorCounts: r.errorCounts,
    achievedRate: Number(r.achievedRate.toFixed(2)),
    durationMs: Math.round(r.durationMs),
    latencyMs: r.latencyMs,
  };
}

export const load: StepType<LoadConfig> = {
  type: 'load',
  summary: 'HTTP load: open loop (`rate`) or closed loop (`concurrency`), bounded by `duration` and/or `maxRequests`, in the foreground or in the background.',
  properties: {
    ...trafficTargetProperties,
    rate: num('Open loop: requests per second, sent on schedule whatever the answers do.', 0.1, 200_000),
    concurrency: int('Closed loop: this many workers, each sending its next request when its previous one is answered.', 1, 10_000),
    connections: int('Open loop: keep-alive connections shared by the requests (default 32).', 1, 10_000),
    duration: durationField('How long the load runs, e.g. `3s`.'),
    maxRequests: int('Stop after this many requests.', 1),
    timeout: durationField('Per-request timeout (default 10s).'),
    warmup: durationField('Traffic before the measured period, left out of the load result (default 0).'),
    background: bool('Run beside the next steps instead of waiting for the load to end (default false).'),
  },
  rules: [
    { oneOf: [{ required: ['rate'] }, { required: ['concurrency'] }] },
    { anyOf: [{ required: ['duration'] }, { required: ['maxRequests'] }] },
    { not: { anyOf: [{ required: ['url', 'service'] }, { required: ['url', 'path'] }] } },
  ],
  title: (c) => `load ${model(c)}${c.background ? ' (background)' : ''}`,
  async run(config, ctx) {
    const target = await resolveTrafficTarget(config, ctx);
    const name = config.name ?? ctx.state.nextLoadName();
    const generator = new LoadGenerator({
      url: target.url,
      method: config.method,
      headers: target.headers,
      body: config.body,
      rate: config.rate,
      concurrency: config.concurrency,
      connections: config.connections,
      durationMs: config.duration !== undefined ? toMs(config.duration) : undefined,
      maxRequests: config.maxRequests,
      timeoutMs: config.timeout !== undefined ? toMs(config.timeout) : undefined,
      warmupMs: config.warmup !== undefined ? toMs(config.warmup) : undefined,
    });
    const description = `${model(config)} -> ${target.label}`;
    // the window starts after the warm-up, as the load's own counts do
    const warmupMs = config.warmup !== undefined ? toMs(config.warmup) : 0;
    const traffic: { label: string; startedAt: number; endedAt?: number } = { label: `load "${name}"`, startedAt: (await ctx.target.mark()) + warmupMs };
    const run: LoadRun = { name, description, startedAt: traffic.startedAt, generator, done: generator.start() };
    ctx.state.loads.set(name, run);
    ctx.state.lastTraffic = traffic;
    const finished = run.done.then((result) => {
      run.result = result;
      run.endedAt = traffic.endedAt = Date.now();
      return result;
    });
    if (config.background) {
      void finished.catch(() => undefined);
      return { summary: `load "${name}" started in the background: ${description}`, data: { load: name, target: target.url, headers: target.headers } };
    }
    const onAbort = (): void => void generator.stop();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await finished;
      await ctx.target.settle();
      run.endedAt = traffic.endedAt = await ctx.target.mark();
      return { summary: `load "${name}" ${description}: ${summarizeLoad(result)}`, data: { load: name, target: target.url, headers: target.headers, result: loadData(result) } };
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
    }
  },
};

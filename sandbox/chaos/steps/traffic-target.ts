/**
 * Where a load or probe step sends its requests: through the ingress gateway (default; Host
 * header from the step, the scenario's `mesh.host` or the mesh's gateway host), to a service
 * through the sidecar of an instance of another service (the way an app in the mesh calls it),
 * or to a loopback URL; `bearer` adds a token of the local issuer (sandbox/security/token-issuer.ts).
 */
import { isLoopbackHost } from '../load-options.js';
import type { StepContext } from './step-type.js';
import { parseDuration } from '../../config/duration.js';
import { TokenIssuer } from '../../security/token-issuer.js';

function mintBearer(b: NonNullable<TrafficTargetConfig['bearer']>): Promise<string> {
  const negative = b.expires?.startsWith('-') ?? false;
  const ms = b.expires ? parseDuration(negative ? b.expires.slice(1) : b.expires) : 3_600_000;
  return TokenIssuer.local().mint({ sub: b.sub, aud: b.aud ?? [], claims: b.claims ?? {}, expiresInS: Math.round(((negative ? -1 : 1) * ms) / 1000) });
}

export interface TrafficTargetConfig {
  path?: string;
  host?: string;
  service?: string;
  from?: string;
  url?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** a token of the local issuer, sent as `Authorization: Bearer <token>` */
  bearer?: { sub: string; aud?: string[]; claims?: Record<string, unknown>; expires?: string };
}

export interface ResolvedTarget {
  url: string;
  headers: Record<string, string>;
  /** `ingress /caller/ping`, `callme-service /callme/ping via caller-service-v1-1` */
  label: string;
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((k) => k.toLowerCase() === name);
}

export async function resolveTrafficTarget(config: TrafficTargetConfig, ctx: Pick<StepContext, 'target'>): Promise<ResolvedTarget> {
  const headers: Record<string, string> = { ...config.headers };
  const path = config.path ?? '/';
  if (config.bearer) headers['authorization'] = `Bearer ${await mintBearer(config.bearer)}`;
  if (config.url !== undefined) {
    const u = new URL(config.url);
    if (!isLoopbackHost(u.hostname)) throw new Error(`refusing to send requests to ${config.url}: only loopback URLs are allowed`);
    if (config.host && !hasHeader(headers, 'host')) headers['host'] = config.host;
    return { url: config.url, headers, label: config.url };
  }
  if (config.service !== undefined) {
    const instances = await ctx.target.instances();
    const from = config.from;
    const candidates = instances.filter((i) => i.serviceListeners[config.service!] !== undefined && (from === undefined ? i.service !== config.service : i.id === from || i.workload === from));
    const chosen = candidates.find((i) => i.state === 'running') ?? candidates[0];
    if (!chosen) {
      const known = [...new Set(instances.flatMap((i) => Object.keys(i.serviceListeners)))].join(', ');
      throw new Error(from ? `no instance ${from} with a sidecar listener for ${config.service} (instances: ${instances.map((i) => i.id).join(', ')})` : `no sidecar has a listener for ${config.service} (services: ${known})`);
    }
    if (!hasHeader(headers, 'host')) headers['host'] = config.host ?? config.service;
    return { url: `http://127.0.0.1:${chosen.serviceListeners[config.service]}${path}`, headers, label: `${config.service} ${path} via ${chosen.id}` };
  }
  const host = config.host ?? ctx.target.defaultHost();
  if (host && !hasHeader(headers, 'host')) headers['host'] = host;
  return { url: `${ctx.target.ingressUrl}${path}`, headers, label: `ingress ${host ? `${host}` : ''}${path}` };
}

/**
 * What the admin API reads from the data plane, merged across its workers (./data-plane.ts):
 * each worker reports the clusters of its own proxies and its own TLS counters.
 */
export interface ClustersJson {
  version: number;
  clusters: Array<Record<string, unknown>>;
  /** endpoint id -> the ToxicProxy in front of it (`ports` when several workers run one each) */
  toxicProxies: Record<string, { port: number; ports?: number[] }>;
  /** downstream codec counters of the worker's listeners (HTTP/1.1 and HTTP/2 connections, protocol errors) */
  downstream?: Record<string, number>;
}

/** every worker's clusters; the version is the oldest any worker runs (they converge on the same) */
export function mergeClusters(parts: readonly ClustersJson[]): ClustersJson {
  if (parts.length === 1) return parts[0]!;
  const toxicProxies: ClustersJson['toxicProxies'] = {};
  for (const p of parts) {
    for (const [id, t] of Object.entries(p.toxicProxies ?? {})) {
      const known = toxicProxies[id];
      if (!known) toxicProxies[id] = { port: t.port, ports: [t.port] };
      else known.ports = [...(known.ports ?? [known.port]), t.port];
    }
  }
  for (const t of Object.values(toxicProxies)) if (t.ports?.length === 1) delete t.ports;
  // counters add up: each worker counts the connections its own listeners accepted
  const downstream: Record<string, number> = {};
  for (const p of parts) for (const [k, v] of Object.entries(p.downstream ?? {})) downstream[k] = (downstream[k] ?? 0) + v;
  return {
    version: Math.min(...parts.map((p) => p.version)),
    clusters: parts.flatMap((p) => p.clusters),
    toxicProxies,
    downstream,
  };
}

export interface SecretsJson {
  secrets: Array<{ proxyId: string } & Record<string, unknown>>;
  inbound: Record<string, number>;
  upstream: { handshakes: number; resumed: number };
}

function sumFields(parts: ReadonlyArray<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of parts) for (const [k, v] of Object.entries(p)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** the secrets every worker holds (the same set, pushed to all), counters summed */
export function mergeSecrets(parts: readonly SecretsJson[]): SecretsJson {
  if (parts.length === 1) return parts[0]!;
  const byProxy = new Map<string, SecretsJson['secrets'][number]>();
  for (const p of parts) for (const s of p.secrets) if (!byProxy.has(s.proxyId)) byProxy.set(s.proxyId, s);
  const upstream = sumFields(parts.map((p) => p.upstream));
  return {
    secrets: [...byProxy.values()],
    inbound: sumFields(parts.map((p) => p.inbound)),
    upstream: { handshakes: upstream['handshakes'] ?? 0, resumed: upstream['resumed'] ?? 0 },
  };
}

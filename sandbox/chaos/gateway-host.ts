/**
 * The Host header that reaches a mesh's services through the ingress gateway, when a scenario
 * does not name one: the first concrete host of a Gateway-bound VirtualService (for the sample,
 * `caller.example.com`), else the first concrete host a Gateway server accepts.
 */

interface RuleLike {
  kind: string;
  spec: unknown;
}

function stringsAt(value: unknown, key: string): string[] {
  if (value === null || typeof value !== 'object') return [];
  const v = (value as Record<string, unknown>)[key];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export function gatewayHost(resources: readonly RuleLike[]): string | undefined {
  for (const r of resources) {
    if (r.kind !== 'VirtualService') continue;
    if (!stringsAt(r.spec, 'gateways').some((g) => g !== 'mesh')) continue;
    const host = stringsAt(r.spec, 'hosts').find((h) => !h.includes('*'));
    if (host) return host;
  }
  for (const r of resources) {
    if (r.kind !== 'Gateway') continue;
    const servers = (r.spec as { servers?: unknown[] } | null)?.servers ?? [];
    for (const server of servers) {
      const host = stringsAt(server, 'hosts')
        .map((h) => h.replace(/^[^/]*\//, ''))
        .find((h) => !h.includes('*'));
      if (host) return host;
    }
  }
  return undefined;
}

import type { FaultSpec, ToxicSpec } from './fault-spec.js';

const pct = (p: number | undefined): string => (p === undefined || p >= 100 ? '' : ` ${p}%`);

export function describeToxic(t: ToxicSpec): string {
  const attrs = Object.entries(t.attributes ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const tox = t.toxicity !== undefined && t.toxicity < 1 ? ` toxicity=${t.toxicity}` : '';
  return `toxic ${t.type}/${t.stream ?? 'downstream'}${attrs ? ` ${attrs}` : ''}${tox}`;
}

/** one line: `callme-service subset v2: abort 503 50%, delay 200ms` */
export function describeFault(spec: FaultSpec): string {
  const parts: string[] = [];
  const h = spec.http;
  if (h?.delay) parts.push(`delay ${h.delay.fixedDelayMs}ms${pct(h.delay.percent)}`);
  if (h?.abort) parts.push(`abort ${h.abort.httpStatus}${pct(h.abort.percent)}`);
  if (h?.reset) parts.push(`reset ${h.reset.phase}${pct(h.reset.percent)}`);
  if (h?.slowBody) parts.push(`slow body ${h.slowBody.bytesPerSecond}B/s${pct(h.slowBody.percent)}`);
  for (const t of spec.toxics ?? []) parts.push(describeToxic(t));
  const m = spec.match;
  const when = m ? ` when ${[m.method, m.pathPrefix && `path ${m.pathPrefix}*`, ...Object.entries(m.headers ?? {}).map(([k, v]) => `${k}=${v}`)].filter(Boolean).join(' ')}` : '';
  const target = `${spec.target.service}${spec.target.subset ? ` subset ${spec.target.subset}` : ''}${spec.target.source ? ` from ${spec.target.source}` : ''}`;
  const ttl = spec.ttlMs ? ` (ttl ${spec.ttlMs / 1000}s)` : '';
  return `${target}: ${parts.join(', ')}${when}${ttl}`;
}

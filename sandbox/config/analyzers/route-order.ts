/**
 * MB2007 (IST0130): routes after a catch-all route are never used;
 * MB2008 (IST0131): match blocks identical to an earlier one are never used.
 *
 * A route is catch-all when it has no `match`, or a match block that matches every request:
 * no conditions besides `name`/`statPrefix`/`ignoreUriCase`, or only `uri` with `prefix: /`
 * (or an empty prefix, or regex `.*`).
 */
import type { HTTPMatchRequest } from '../istio-types.js';
import type { AnalysisContext } from './context.js';

const NEUTRAL = new Set(['name', 'statPrefix', 'ignoreUriCase']);

export function isCatchAllMatch(m: HTTPMatchRequest): boolean {
  const keys = Object.keys(m).filter((k) => !NEUTRAL.has(k));
  if (keys.length === 0) return true;
  if (keys.length !== 1 || keys[0] !== 'uri' || !m.uri) return false;
  return m.uri.prefix === '/' || m.uri.prefix === '' || m.uri.regex === '.*' || m.uri.regex === '/.*';
}

/** Canonical text of a match block without its name, for equality. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([k]) => k !== 'name')
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function checkRouteOrder(ctx: AnalysisContext): void {
  for (const vs of ctx.virtualServices) {
    const seen = new Map<string, string>();
    let catchAll: string | undefined;
    (vs.spec.http ?? []).forEach((route, i) => {
      if (catchAll !== undefined) {
        ctx.report(
          'UNREACHABLE_ROUTE',
          vs,
          ['spec', 'http', i],
          `spec.http[${i}] is never used: ${catchAll} before it matches every request`,
          'move this route above the catch-all route, or give the catch-all route a match',
        );
        return;
      }
      const matches = route.match ?? [];
      if (matches.length === 0) {
        catchAll = `spec.http[${i}] (no match)`;
        return;
      }
      let routeCatchAll: string | undefined;
      matches.forEach((m, j) => {
        const here = `spec.http[${i}].match[${j}]`;
        if (routeCatchAll !== undefined) {
          ctx.report('INEFFECTIVE_MATCH', vs, ['spec', 'http', i, 'match', j], `${here} is never used: ${routeCatchAll} before it matches every request`, 'remove this match block');
          return;
        }
        const key = canonical(m);
        const earlier = seen.get(key);
        if (earlier !== undefined) {
          ctx.report('INEFFECTIVE_MATCH', vs, ['spec', 'http', i, 'match', j], `${here} is never used: it is identical to ${earlier}, which comes first`, 'remove it, or change its conditions');
          return;
        }
        seen.set(key, here);
        if (isCatchAllMatch(m)) routeCatchAll = `${here} (${m.uri ? 'matches every path' : 'no conditions'})`;
      });
      if (routeCatchAll !== undefined) catchAll = routeCatchAll;
    });
  }
}

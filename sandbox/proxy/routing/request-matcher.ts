/**
 * One HTTPMatchRequest block: every condition must hold (AND). A route's `match[]` list is an
 * OR of blocks; a route without match blocks matches every request.
 *
 * Envoy semantics kept: `uri.exact` and `uri.regex` see the path without its query string,
 * `uri.prefix` is a plain string prefix (`/foo` matches `/foobar`), `authority` is compared with
 * the Host header as sent (port included), header keys are lower case and `{}` checks presence,
 * `withoutHeaders` negates, `queryParams` `exact: ""` matches a bare `?key`.
 */
import type { HTTPMatchRequest } from '../../config/istio-types.js';
import { compileStringMatch, type CompiledStringMatch } from './string-match.js';
import { headerValue, splitPath, type RequestView } from './request-view.js';

/** keys Istio ignores inside `headers` (they have their own fields) */
const PSEUDO_KEYS = new Set(['uri', 'scheme', 'method', 'authority']);

interface Condition {
  test(req: RequestView, pathname: string, query: URLSearchParams | undefined): boolean;
  describe: string;
}

export interface MatchOutcome {
  matched: boolean;
  /** the first condition that failed, for explanations */
  failed?: string;
  /** what matched, for explanations */
  matchedOn: string[];
}

export class RequestMatcher {
  private readonly conditions: Condition[] = [];
  private readonly needsQuery: boolean;
  /** the literal prefix when the block matched on `uri.prefix` (used by prefix rewrite) */
  readonly uriPrefix: string | undefined;

  constructor(readonly spec: HTTPMatchRequest) {
    const ignoreCase = spec.ignoreUriCase === true;
    this.uriPrefix = spec.uri?.prefix;
    if (spec.uri) {
      const m = compileStringMatch(spec.uri, ignoreCase);
      const usesFullPath = spec.uri.prefix !== undefined;
      this.conditions.push({
        test: (req, pathname) => m.test(usesFullPath ? req.path : pathname),
        describe: `uri ${m.explain()}`,
      });
    }
    if (spec.method) this.pushSimple('method', compileStringMatch(spec.method), (r) => r.method);
    if (spec.scheme) this.pushSimple('scheme', compileStringMatch(spec.scheme), (r) => r.scheme);
    if (spec.authority) this.pushSimple('authority', compileStringMatch(spec.authority), (r) => r.authority);
    if (spec.port !== undefined) {
      const port = spec.port;
      this.conditions.push({ test: (r) => r.port === port, describe: `port ${port}` });
    }
    for (const [rawName, sm] of Object.entries(spec.headers ?? {})) {
      const name = rawName.toLowerCase();
      if (PSEUDO_KEYS.has(name)) continue;
      const m = compileStringMatch(sm);
      this.conditions.push({
        test: (r) => m.test(headerValue(r.headers, name)),
        describe: `header ${name} ${m.explain()}`,
      });
    }
    for (const [rawName, sm] of Object.entries(spec.withoutHeaders ?? {})) {
      const name = rawName.toLowerCase();
      if (PSEUDO_KEYS.has(name)) continue;
      const m = compileStringMatch(sm);
      this.conditions.push({
        test: (r) => !m.test(headerValue(r.headers, name)),
        describe: `header ${name} not ${m.explain()}`,
      });
    }
    const queryEntries = Object.entries(spec.queryParams ?? {});
    this.needsQuery = queryEntries.length > 0;
    for (const [key, sm] of queryEntries) {
      const m: CompiledStringMatch = compileStringMatch(sm);
      this.conditions.push({
        test: (_r, _p, q) => {
          const v = q?.get(key);
          return m.test(v === null ? undefined : v);
        },
        describe: `query ${key} ${m.explain()}`,
      });
    }
  }

  private pushSimple(label: string, m: CompiledStringMatch, get: (r: RequestView) => string): void {
    this.conditions.push({ test: (r) => m.test(get(r)), describe: `${label} ${m.explain()}` });
  }

  matches(req: RequestView): MatchOutcome {
    const { pathname, query } = splitPath(req.path);
    const params = this.needsQuery ? new URLSearchParams(query) : undefined;
    const matchedOn: string[] = [];
    for (const c of this.conditions) {
      if (!c.test(req, pathname, params)) return { matched: false, failed: c.describe, matchedOn };
      matchedOn.push(c.describe);
    }
    return { matched: true, matchedOn };
  }

  /** true when the block matches every request (only `uri.prefix: "/"` or nothing) */
  isCatchAll(): boolean {
    return this.conditions.length === 0 || (this.conditions.length === 1 && this.spec.uri?.prefix === '/');
  }

  explain(): string {
    return this.conditions.length === 0 ? 'any request' : this.conditions.map((c) => c.describe).join(' and ');
  }
}

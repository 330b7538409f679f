/**
 * One HTTPMatchRequest block: every condition must hold (AND). A route's `match[]` list is an
 * OR of blocks; a route without match blocks matches every request.
 *
 * Envoy semantics kept: `uri.exact` and `uri.regex` see the path without its query string,
 * `uri.prefix` is a plain string prefix (`/foo` matches `/foobar`), `authority` is compared with
 * the Host header as sent (port included), header keys are lower case and `{}` checks presence,
 * `withoutHeaders` negates, `queryParams` `exact: ""` matches a bare `?key`.
 *
 * Compiled once per snapshot: the conditions and their descriptions (for explanations) are
 * built here, so matching a request allocates nothing but its query parameters, when a
 * condition needs them.
 */
import type { HTTPMatchRequest } from '../../config/istio-types.js';
import { compileStringMatch, type CompiledStringMatch } from './string-match.js';
import { headerValue, splitPath, type RequestView } from './request-view.js';

/** keys Istio ignores inside `headers` (they have their own fields) */
const PSEUDO_KEYS = new Set(['uri', 'scheme', 'method', 'authority']);

/** What a condition sees of a request: the view plus its path split once per request. */
export interface MatchInput {
  req: RequestView;
  pathname: string;
  /** the query string (without `?`) */
  query: string;
  /** parsed on first use, shared by every condition of every route */
  params?: URLSearchParams;
}

export function matchInput(req: RequestView): MatchInput {
  const { pathname, query } = splitPath(req.path);
  return { req, pathname, query };
}

function params(input: MatchInput): URLSearchParams {
  return (input.params ??= new URLSearchParams(input.query));
}

interface Condition {
  test(input: MatchInput): boolean;
  describe: string;
}

export interface MatchOutcome {
  matched: boolean;
  /** the first condition that failed, for explanations */
  failed?: string;
  /** what matched, for explanations */
  matchedOn: string[];
}

/**
 * What a block requires that a route index can look up: the uri (exact: the path without
 * query; prefix: the whole path; lower case under `ignoreUriCase`), else one exact header.
 */
export type IndexKey =
  | { kind: 'exact'; value: string; ignoreCase: boolean }
  | { kind: 'prefix'; value: string; ignoreCase: boolean }
  | { kind: 'header'; name: string; value: string };

export class RequestMatcher {
  private readonly conditions: Condition[] = [];
  /** the literal prefix when the block matched on `uri.prefix` (used by prefix rewrite) */
  readonly uriPrefix: string | undefined;
  /** what a route index may key this block by; undefined when nothing indexable is required */
  readonly indexKey: IndexKey | undefined;
  private readonly explanation: string;

  constructor(readonly spec: HTTPMatchRequest) {
    const ignoreCase = spec.ignoreUriCase === true;
    this.uriPrefix = spec.uri?.prefix;
    if (spec.uri) {
      const m = compileStringMatch(spec.uri, ignoreCase);
      const usesFullPath = spec.uri.prefix !== undefined;
      this.conditions.push({
        test: usesFullPath ? (i) => m.test(i.req.path) : (i) => m.test(i.pathname),
        describe: `uri ${m.explain()}`,
      });
    }
    if (spec.method) this.pushSimple('method', compileStringMatch(spec.method), (r) => r.method);
    if (spec.scheme) this.pushSimple('scheme', compileStringMatch(spec.scheme), (r) => r.scheme);
    if (spec.authority) this.pushSimple('authority', compileStringMatch(spec.authority), (r) => r.authority);
    if (spec.port !== undefined) {
      const port = spec.port;
      this.conditions.push({ test: (i) => i.req.port === port, describe: `port ${port}` });
    }
    let headerKey: IndexKey | undefined;
    for (const [rawName, sm] of Object.entries(spec.headers ?? {})) {
      const name = rawName.toLowerCase();
      if (PSEUDO_KEYS.has(name)) continue;
      const m = compileStringMatch(sm);
      if (!headerKey && sm.exact !== undefined) headerKey = { kind: 'header', name, value: sm.exact };
      this.conditions.push({
        test: (i) => m.test(headerValue(i.req.headers, name)),
        describe: `header ${name} ${m.explain()}`,
      });
    }
    for (const [rawName, sm] of Object.entries(spec.withoutHeaders ?? {})) {
      const name = rawName.toLowerCase();
      if (PSEUDO_KEYS.has(name)) continue;
      const m = compileStringMatch(sm);
      this.conditions.push({
        test: (i) => !m.test(headerValue(i.req.headers, name)),
        describe: `header ${name} not ${m.explain()}`,
      });
    }
    for (const [key, sm] of Object.entries(spec.queryParams ?? {})) {
      const m: CompiledStringMatch = compileStringMatch(sm);
      this.conditions.push({
        test: (i) => {
          const v = params(i).get(key);
          return m.test(v === null ? undefined : v);
        },
        describe: `query ${key} ${m.explain()}`,
      });
    }
    const uri = spec.uri;
    if (uri?.exact !== undefined) this.indexKey = { kind: 'exact', value: ignoreCase ? uri.exact.toLowerCase() : uri.exact, ignoreCase };
    else if (uri?.prefix !== undefined) this.indexKey = { kind: 'prefix', value: ignoreCase ? uri.prefix.toLowerCase() : uri.prefix, ignoreCase };
    else this.indexKey = headerKey;
    this.explanation = this.conditions.length === 0 ? 'any request' : this.conditions.map((c) => c.describe).join(' and ');
  }

  private pushSimple(label: string, m: CompiledStringMatch, get: (r: RequestView) => string): void {
    this.conditions.push({ test: (i) => m.test(get(i.req)), describe: `${label} ${m.explain()}` });
  }

  /** the request path: does every condition hold? (allocates nothing) */
  test(input: MatchInput): boolean {
    for (const c of this.conditions) if (!c.test(input)) return false;
    return true;
  }

  /** the first condition that does not hold, for explanations; undefined when the block matches */
  firstFailure(input: MatchInput): string | undefined {
    for (const c of this.conditions) if (!c.test(input)) return c.describe;
    return undefined;
  }

  matches(req: RequestView): MatchOutcome {
    const input = matchInput(req);
    const matchedOn: string[] = [];
    for (const c of this.conditions) {
      if (!c.test(input)) return { matched: false, failed: c.describe, matchedOn };
      matchedOn.push(c.describe);
    }
    return { matched: true, matchedOn };
  }

  /** true when the block matches every request (only `uri.prefix: "/"` or nothing) */
  isCatchAll(): boolean {
    return this.conditions.length === 0 || (this.conditions.length === 1 && this.spec.uri?.prefix === '/');
  }

  explain(): string {
    return this.explanation;
  }
}

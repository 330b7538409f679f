/**
 * The matching semantics of AuthorizationPolicy fields, as Istio translates them to Envoy RBAC:
 *
 * - strings: exact `abc`, prefix `abc*`, suffix `*abc`, presence `*` (any non-empty value);
 * - paths: the same, plus templates `{*}` (one path segment) and `{**}` (the rest of the path,
 *   last operator only); the query string is never part of the path;
 * - hosts: case-insensitive, with or without the `:port` of the Host header;
 * - ipBlocks / remoteIpBlocks: an address or a CIDR block (IPv4 or IPv6);
 * - principals (and `source.principal`) with a trust domain bundle (meshbox.yaml `trustDomain`,
 *   `trustDomainAliases`): a principal whose trust domain is in the bundle, or is
 *   `cluster.local` (which stands for the local trust domain), is matched in every trust domain
 *   of the bundle, as Istio's trustdomain.Bundle.ReplaceTrustDomainAliases does; one starting
 *   with `*` or in another trust domain is matched as written;
 * - within a source or operation the fields are ANDed, the values of one field ORed; a `not*`
 *   field matches when none of its values does.
 */
import { BlockList, isIP } from 'node:net';
import type { AuthzCondition, AuthzOperation, AuthzRequest, AuthzRule, AuthzSource } from './authz-types.js';

/** Istio's string match on one value (absent values are `''`, which only `not*` fields match). */
export function stringMatches(pattern: string, value: string): boolean {
  if (pattern === '*') return value.length > 0;
  if (pattern.length > 1 && pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  if (pattern.length > 1 && pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  return value === pattern;
}

export function isPathTemplate(pattern: string): boolean {
  return pattern.includes('{*}') || pattern.includes('{**}');
}

/** Why a path template is invalid, or undefined (Istio: `{**}` only as the last operator, whole segments). */
export function pathTemplateError(pattern: string): string | undefined {
  if (!isPathTemplate(pattern)) return undefined;
  if (!pattern.startsWith('/')) return 'a path template must start with `/`';
  const segments = pattern.split('/').slice(1);
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if ((s.includes('{*}') || s.includes('{**}')) && s !== '{*}' && s !== '{**}') return `\`${s}\`: \`{*}\` and \`{**}\` must be a whole path segment`;
    if (s === '{**}' && i !== segments.length - 1) return '`{**}` must be the last operator of the path';
  }
  return undefined;
}

const templateCache = new Map<string, RegExp>();

function templateRegex(pattern: string): RegExp {
  let re = templateCache.get(pattern);
  if (!re) {
    const body = pattern
      .split('/')
      .map((s) => (s === '{*}' ? '[^/]+' : s === '{**}' ? '.+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    re = new RegExp(`^${body}$`);
    templateCache.set(pattern, re);
  }
  return re;
}

export function pathMatches(pattern: string, path: string): boolean {
  return isPathTemplate(pattern) ? templateRegex(pattern).test(path) : stringMatches(pattern, path);
}

export function hostMatches(pattern: string, host: string): boolean {
  const h = host.toLowerCase();
  const p = pattern.toLowerCase();
  const bare = h.replace(/:\d+$/, '');
  return stringMatches(p, h) || stringMatches(p, bare);
}

const blockCache = new Map<string, BlockList | null>();

/** an address or CIDR block as a BlockList, or null when it is neither */
export function ipBlock(text: string): BlockList | null {
  let b = blockCache.get(text);
  if (b !== undefined) return b;
  b = null;
  const [addr, bits] = text.split('/');
  const family = isIP(addr ?? '');
  if (family !== 0 && (bits === undefined || /^\d+$/.test(bits))) {
    const prefix = bits === undefined ? (family === 4 ? 32 : 128) : Number(bits);
    if (prefix <= (family === 4 ? 32 : 128)) {
      b = new BlockList();
      b.addSubnet(addr!, prefix, family === 4 ? 'ipv4' : 'ipv6');
    }
  }
  blockCache.set(text, b);
  return b;
}

export function ipMatches(block: string, ip: string): boolean {
  const addr = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  const family = isIP(addr);
  if (family === 0) return false;
  const list = ipBlock(block);
  return list ? list.check(addr, family === 4 ? 'ipv4' : 'ipv6') : false;
}

/** `cluster.local/ns/foo/sa/bar` -> its parts */
export function principalParts(principal: string | undefined): { trustDomain: string; namespace: string; serviceAccount: string } {
  const m = /^(?:spiffe:\/\/)?([^/]*)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(principal ?? '');
  return m ? { trustDomain: m[1]!, namespace: m[2]!, serviceAccount: m[3]! } : { trustDomain: '', namespace: '', serviceAccount: '' };
}

/** Istio's ReplaceTrustDomainAliases: the principals a policy's principals stand for in a trust domain bundle */
export function withTrustDomainAliases(principals: string[] | undefined, bundle: readonly string[] | undefined): string[] | undefined {
  if (principals === undefined || !bundle || bundle.length === 0) return principals;
  const out: string[] = [];
  const add = (p: string): void => {
    if (!out.includes(p)) out.push(p);
  };
  for (const p of principals) {
    const at = p.indexOf('/ns/');
    // `*` and `*/ns/...` do not enforce a trust domain; a principal without `/ns/` has none
    if (p.startsWith('*') || at < 0) {
      add(p);
      continue;
    }
    const td = p.slice(0, at);
    if (td === 'cluster.local' || bundle.some((b) => stringMatches(b, td))) for (const b of bundle) add(`${b}${p.slice(at)}`);
    else add(p);
  }
  return out;
}

function peerPrincipal(req: AuthzRequest): string {
  return (req.peerPrincipal ?? '').replace(/^spiffe:\/\//, '');
}

/** the result of one clause: whether it matched, and why (for explain) */
export interface ClauseResult {
  matched: boolean;
  why: string;
}

type Matcher = (pattern: string, value: string) => boolean;

/** a positive field matches when a value matches any pattern; `values` may hold several (claims, audiences) */
function field(name: string, patterns: string[] | undefined, values: string[], match: Matcher, negate: boolean): ClauseResult | undefined {
  if (patterns === undefined) return undefined;
  const shown = values.length === 0 ? 'none' : values.map((v) => JSON.stringify(v)).join(', ');
  const hit = patterns.find((p) => values.some((v) => match(p, v)));
  if (negate) return hit === undefined ? { matched: true, why: `${name} ${shown} is not in ${JSON.stringify(patterns)}` } : { matched: false, why: `${name} ${shown} matches ${JSON.stringify(hit)}` };
  return hit !== undefined ? { matched: true, why: `${name} ${shown} matches ${JSON.stringify(hit)}` } : { matched: false, why: `${name} ${shown} does not match ${JSON.stringify(patterns)}` };
}

function allOf(results: Array<ClauseResult | undefined>, empty: string): ClauseResult {
  const present = results.filter((r): r is ClauseResult => r !== undefined);
  const failed = present.find((r) => !r.matched);
  if (failed) return failed;
  return { matched: true, why: present.length > 0 ? present.map((r) => r.why).join('; ') : empty };
}

const list = (v: string): string[] => (v.length > 0 ? [v] : []);
const one = (v: string): string[] => [v];

export function sourceMatches(s: AuthzSource, req: AuthzRequest): ClauseResult {
  const principal = peerPrincipal(req);
  const parts = principalParts(principal);
  const reqPrincipal = req.jwt?.principal ?? '';
  const sa = parts.namespace ? `${parts.namespace}/${parts.serviceAccount}` : '';
  return allOf(
    [
      field('source principal', withTrustDomainAliases(s.principals, req.trustDomains), one(principal), stringMatches, false),
      field('source principal', withTrustDomainAliases(s.notPrincipals, req.trustDomains), one(principal), stringMatches, true),
      field('request principal', s.requestPrincipals, one(reqPrincipal), stringMatches, false),
      field('request principal', s.notRequestPrincipals, one(reqPrincipal), stringMatches, true),
      field('source namespace', s.namespaces, one(parts.namespace), stringMatches, false),
      field('source namespace', s.notNamespaces, one(parts.namespace), stringMatches, true),
      field('source service account', s.serviceAccounts, one(sa), stringMatches, false),
      field('source service account', s.notServiceAccounts, one(sa), stringMatches, true),
      field('source ip', s.ipBlocks, list(req.sourceIp), ipMatches, false),
      field('source ip', s.notIpBlocks, list(req.sourceIp), ipMatches, true),
      field('remote ip', s.remoteIpBlocks, list(req.remoteIp), ipMatches, false),
      field('remote ip', s.notRemoteIpBlocks, list(req.remoteIp), ipMatches, true),
    ],
    'any source',
  );
}

export function operationMatches(o: AuthzOperation, req: AuthzRequest): ClauseResult {
  const port = String(req.port);
  return allOf(
    [
      field('host', o.hosts, one(req.host), hostMatches, false),
      field('host', o.notHosts, one(req.host), hostMatches, true),
      field('port', o.ports, one(port), (p, v) => p === v, false),
      field('port', o.notPorts, one(port), (p, v) => p === v, true),
      field('method', o.methods, one(req.method), stringMatches, false),
      field('method', o.notMethods, one(req.method), stringMatches, true),
      field('path', o.paths, one(req.path), pathMatches, false),
      field('path', o.notPaths, one(req.path), pathMatches, true),
    ],
    'any operation',
  );
}

/** The condition keys Istio documents (security/conditions); `experimental.envoy.filters.*` is accepted and not evaluated. */
export const CONDITION_KEYS = [
  'request.headers[<name>]',
  'source.ip',
  'remote.ip',
  'source.namespace',
  'source.principal',
  'request.auth.principal',
  'request.auth.audiences',
  'request.auth.presenter',
  'request.auth.claims[<claim>]',
  'destination.ip',
  'destination.port',
  'connection.sni',
];

const HEADER_KEY = /^request\.headers\[([^\]]+)\]$/;
const CLAIM_KEY = /^request\.auth\.claims((?:\[[^\]]+\])+)$/;

export type ConditionKeyKind = 'known' | 'experimental' | 'unknown';

export function conditionKeyKind(key: string): ConditionKeyKind {
  if (HEADER_KEY.test(key) || CLAIM_KEY.test(key)) return 'known';
  if (key.startsWith('experimental.envoy.filters.')) return 'experimental';
  return CONDITION_KEYS.includes(key) ? 'known' : 'unknown';
}

/** the condition keys whose values are IP addresses or CIDR blocks */
export function isIpConditionKey(key: string): boolean {
  return key === 'source.ip' || key === 'remote.ip' || key === 'destination.ip';
}

/** the claims Istio always reads as space-separated lists */
export const DEFAULT_SPACE_DELIMITED_CLAIMS = ['scope', 'permission'];

function claimValues(jwt: AuthzRequest['jwt'], path: string[]): string[] {
  let v: unknown = jwt?.claims;
  for (const p of path) v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[p] : undefined;
  const spaced = path.length === 1 && [...DEFAULT_SPACE_DELIMITED_CLAIMS, ...(jwt?.spaceDelimitedClaims ?? [])].includes(path[0]!);
  if (typeof v === 'string') return spaced ? [v, ...v.split(' ').filter((x) => x.length > 0)] : [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

function headerValue(headers: AuthzRequest['headers'], name: string): string {
  const v = headers[name.toLowerCase()];
  return v === undefined ? '' : Array.isArray(v) ? v.join(',') : v;
}

/** the values a condition key has for this request (undefined: a key meshbox does not evaluate) */
export function conditionValues(key: string, req: AuthzRequest): string[] | undefined {
  const header = HEADER_KEY.exec(key);
  if (header) return one(headerValue(req.headers, header[1]!));
  const claim = CLAIM_KEY.exec(key);
  if (claim) return claimValues(req.jwt, claim[1]!.slice(1, -1).split(']['));
  const parts = principalParts(peerPrincipal(req));
  switch (key) {
    case 'source.ip':
      return list(req.sourceIp);
    case 'remote.ip':
      return list(req.remoteIp);
    case 'destination.ip':
      return list(req.destinationIp);
    case 'destination.port':
      return one(String(req.port));
    case 'source.namespace':
      return one(parts.namespace);
    case 'source.principal':
      return one(peerPrincipal(req));
    case 'request.auth.principal':
      return one(req.jwt?.principal ?? '');
    case 'request.auth.audiences':
      return req.jwt?.audiences ?? [];
    case 'request.auth.presenter':
      return one(req.jwt?.presenter ?? '');
    case 'connection.sni':
      return one('');
    default:
      return undefined;
  }
}

export function conditionMatches(c: AuthzCondition, req: AuthzRequest): ClauseResult {
  const values = conditionValues(c.key, req);
  if (values === undefined) return { matched: true, why: `${c.key} is not evaluated by meshbox (ignored, as Istio ignores unknown keys)` };
  const match: Matcher = isIpConditionKey(c.key) ? ipMatches : c.key === 'destination.port' ? (p, v) => p === v : stringMatches;
  const bundle = c.key === 'source.principal' ? req.trustDomains : undefined;
  return allOf([field(c.key, withTrustDomainAliases(c.values, bundle), values, match, false), field(c.key, withTrustDomainAliases(c.notValues, bundle), values, match, true)], `${c.key}: no values`);
}

/** A rule: any `from` AND any `to` AND every `when` (a missing part matches everything). */
export function ruleMatches(rule: AuthzRule, req: AuthzRequest): ClauseResult {
  const parts: ClauseResult[] = [];
  if (rule.from && rule.from.length > 0) {
    const results = rule.from.map((f) => sourceMatches(f.source ?? {}, req));
    parts.push(results.find((r) => r.matched) ?? { matched: false, why: results.map((r) => r.why).join(' / ') });
  }
  if (rule.to && rule.to.length > 0) {
    const results = rule.to.map((t) => operationMatches(t.operation ?? {}, req));
    parts.push(results.find((r) => r.matched) ?? { matched: false, why: results.map((r) => r.why).join(' / ') });
  }
  for (const c of rule.when ?? []) parts.push(conditionMatches(c, req));
  return allOf(parts, 'the rule is empty: it matches every request');
}

/**
 * Path and authority rewrite (VirtualService `rewrite`) and redirect targets (`redirect`).
 *
 * `rewrite.uri` replaces the matched prefix when the route matched on `uri.prefix`, otherwise
 * the whole path (query kept); `uriRegexRewrite` substitutes every match (`\1` captures).
 * `redirect.uri` always replaces the whole path (Istio's documented behaviour); the query string
 * is kept unless the new uri carries its own.
 */
import type { HTTPRedirect, HTTPRewrite } from '../../config/istio-types.js';
import { splitPath } from './request-view.js';

export function rewritePath(path: string, rewrite: HTTPRewrite, matchedPrefix: string | undefined): string {
  if (rewrite.uriRegexRewrite) {
    const { pathname, query } = splitPath(path);
    const re = new RegExp(rewrite.uriRegexRewrite.match, 'g');
    const replacement = rewrite.uriRegexRewrite.rewrite.replace(/\\(\d)/g, '$$$1');
    const next = pathname.replace(re, replacement);
    return query ? `${next}?${query}` : next;
  }
  if (rewrite.uri === undefined) return path;
  if (matchedPrefix !== undefined && path.startsWith(matchedPrefix)) {
    return rewrite.uri + path.slice(matchedPrefix.length);
  }
  const { query } = splitPath(path);
  return query ? `${rewrite.uri}?${query}` : rewrite.uri;
}

export interface RedirectTarget {
  status: number;
  location: string;
}

export function redirectTarget(
  redirect: HTTPRedirect,
  req: { scheme: string; authority: string; path: string; port: number },
): RedirectTarget {
  const scheme = redirect.scheme ?? req.scheme;
  const { pathname, query } = splitPath(req.path);
  let path = pathname;
  let q = query;
  if (redirect.uri !== undefined) {
    const next = splitPath(redirect.uri);
    path = next.pathname;
    if (next.query) q = next.query;
  }
  const authority = redirect.authority ?? req.authority;
  const hostOnly = authority.replace(/:\d+$/, '');
  let port: number | undefined;
  if (redirect.port !== undefined) port = redirect.port;
  else if (redirect.derivePort === 'FROM_REQUEST_PORT') port = req.port;
  else if (redirect.derivePort === 'FROM_PROTOCOL_DEFAULT') port = undefined;
  else if (redirect.authority === undefined) {
    const m = /:(\d+)$/.exec(authority);
    port = m ? Number(m[1]) : undefined;
  }
  const defaultPort = scheme === 'https' ? 443 : 80;
  const hostPart = port !== undefined && port !== defaultPort ? `${hostOnly}:${port}` : hostOnly;
  return {
    status: redirect.redirectCode ?? 301,
    location: `${scheme}://${hostPart}${path}${q ? `?${q}` : ''}`,
  };
}

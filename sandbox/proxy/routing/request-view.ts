import type { IncomingHttpHeaders } from 'node:http';

/** What route matching sees of a request (Envoy's pseudo-headers plus headers). */
export interface RequestView {
  method: string;
  /** path with query string, as in `:path` */
  path: string;
  authority: string;
  scheme: string;
  /** the destination port: the Service port the request is addressed to (gateway: the server port) */
  port: number;
  headers: IncomingHttpHeaders;
}

export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : v;
}

export function splitPath(path: string): { pathname: string; query: string } {
  const q = path.indexOf('?');
  return q === -1 ? { pathname: path, query: '' } : { pathname: path.slice(0, q), query: path.slice(q + 1) };
}

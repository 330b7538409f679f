import { describe, expect, it } from 'vitest';
import { applyHeaderOps, type HeaderMap } from '../../../sandbox/proxy/routing/header-ops.js';
import { redirectTarget, rewritePath } from '../../../sandbox/proxy/routing/rewrite.js';

describe('rewrite', () => {
  it('replaces the matched prefix when the route matched on a prefix', () => {
    expect(rewritePath('/ratings/1?x=2', { uri: '/v1/ratings' }, '/ratings')).toBe('/v1/ratings/1?x=2');
  });
  it('replaces the whole path (keeping the query) otherwise', () => {
    expect(rewritePath('/a/b?q=1', { uri: '/c' }, undefined)).toBe('/c?q=1');
  });
  it('uriRegexRewrite substitutes every match with captures', () => {
    expect(rewritePath('/service/foo/v1/bar', { uriRegexRewrite: { match: '^/service/([^/]+)(/.*)$', rewrite: '\\2/instance/\\1' } }, undefined)).toBe('/v1/bar/instance/foo');
  });
});

describe('redirect', () => {
  const r = { scheme: 'http', authority: 'caller.example.com:8080', path: '/old?a=1', port: 80 };
  it('defaults to 301, keeps authority, port and query', () => {
    expect(redirectTarget({ uri: '/new' }, r)).toEqual({ status: 301, location: 'http://caller.example.com:8080/new?a=1' });
  });
  it('authority, scheme, code and derivePort', () => {
    expect(redirectTarget({ authority: 'x.example.com', scheme: 'https', redirectCode: 308 }, r)).toEqual({ status: 308, location: 'https://x.example.com/old?a=1' });
    expect(redirectTarget({ authority: 'x', derivePort: 'FROM_REQUEST_PORT' }, r).location).toBe('http://x/old?a=1');
    expect(redirectTarget({ authority: 'x', port: 9090 }, r).location).toBe('http://x:9090/old?a=1');
  });
});

describe('header operations', () => {
  it('remove, then set (overwrite), then add (append)', () => {
    const h: HeaderMap = { 'x-a': '1', 'x-b': '2', 'x-c': '3' };
    applyHeaderOps(h, { remove: ['X-C'], set: { 'x-a': 'one' }, add: { 'x-b': 'two', 'x-d': 'four' } });
    expect(h).toEqual({ 'x-a': 'one', 'x-b': '2,two', 'x-d': 'four' });
  });
});

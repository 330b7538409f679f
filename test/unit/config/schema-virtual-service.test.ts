import { describe, expect, it } from 'vitest';
import { doc, expectOne, expectValid, parse, withCode } from './helpers.js';

const vs = (spec: string): string => doc('VirtualService', spec);

const route = (extra: string): string => `
hosts: [reviews]
http:
- route:
  - destination:
      host: reviews
${extra}`;

describe('VirtualService schema: fields and types', () => {
  it('accepts a full, valid VirtualService', () => {
    const r = expectValid(
      vs(`
hosts: [reviews, reviews.default.svc.cluster.local]
gateways: [mesh, default/my-gateway]
http:
- name: jason
  match:
  - headers:
      end-user: {exact: jason}
      x-present: {}
    uri: {prefix: /api}
    ignoreUriCase: true
    queryParams:
      debug: {exact: ""}
  - uri: {regex: "(?i)/v[0-9]+/.*"}
    method: {exact: GET}
    port: 9080
    sourceLabels: {app: productpage}
  route:
  - destination: {host: reviews, subset: v2, port: {number: 9080}}
    weight: 80
    headers: {request: {set: {x-a: b}, add: {x-c: d}, remove: [x-e]}}
  - destination: {host: reviews, subset: v1}
    weight: 20
  timeout: 0.5s
  retries: {attempts: 3, perTryTimeout: 200ms, retryOn: "gateway-error,connect-failure,refused-stream,503", retryIgnorePreviousHosts: true, backoff: 25ms}
  fault:
    delay: {fixedDelay: 3s, percentage: {value: 33.3}}
    abort: {httpStatus: 503, percentage: {value: 0.1}}
  mirror: {host: reviews, subset: v3}
  mirrorPercentage: {value: 10}
  corsPolicy:
    allowOrigins: [{exact: "https://example.com"}, {regex: ".*\\\\.example\\\\.com"}]
    allowMethods: [GET, POST]
    maxAge: 24h
    allowCredentials: false
    unmatchedPreflights: IGNORE
  headers: {response: {remove: [server]}}
  rewrite: {uri: /v2}
- match: [{uri: {exact: /old}}]
  redirect: {uri: /new, authority: example.com, derivePort: FROM_REQUEST_PORT, scheme: https, redirectCode: 302}
- match: [{uri: {exact: /teapot}}]
  directResponse: {status: 418, body: {string: "I'm a teapot"}}
- match: [{uri: {prefix: /grpc}}]
  fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}}
  route: [{destination: {host: reviews}}]
- route: [{destination: {host: reviews}}]
  rewrite: {uriRegexRewrite: {match: "^/service/([^/]+)(/.*)$", rewrite: "/x/\\\\2/\\\\1"}}
`),
    );
    expect(r.applied).toBe(true);
    expect(r.resources).toHaveLength(1);
    expect(r.resources[0]!.metadata.namespace).toBe('default');
  });

  it('reports an unknown field at its key with a did-you-mean hint', () => {
    const text = vs(route('    weigth: 80'));
    const f = expectOne(text, 'UNKNOWN_FIELD', { at: '11:7', message: 'spec.http[0].route[0]: unknown field `weigth`', hint: 'did you mean `weight`?' });
    expect(f.severity).toBe('error');
    expect(f.resource).toEqual({ kind: 'VirtualService', name: 'test', namespace: 'default' });
  });

  it('suggests camelCase for proto snake_case names', () => {
    expectOne(vs(route('  retries: {attempts: 3, retry_on: 5xx}')), 'UNKNOWN_FIELD', { atText: 'retry_on', hint: '`retryOn`' });
  });

  it('lists the allowed fields when nothing is close', () => {
    expectOne(vs(route('  banana: 1')), 'UNKNOWN_FIELD', { atText: 'banana', hint: 'fields allowed here (HTTPRoute): `name`, `match`' });
  });

  it('reports a quoted number where an integer is expected', () => {
    expectOne(vs(route('  retries: {attempts: "3"}')), 'WRONG_TYPE', { atText: '"3"', message: 'spec.http[0].retries.attempts must be an integer, got "3" (a string)', hint: 'remove the quotes' });
  });

  it('reports a duration without a unit', () => {
    expectOne(vs(route('  timeout: 5')), 'WRONG_TYPE', { atText: '5\n', hint: 'a duration needs a unit, e.g. `5s`' });
  });

  it('reports a list where a mapping is expected', () => {
    expectOne(vs(route('  retries: [3]')), 'WRONG_TYPE', { atText: 'retries', message: 'must be a mapping', hint: 'not a list' });
  });

  it('reports a key without value', () => {
    expectOne(vs(route('  timeout:')), 'WRONG_TYPE', { atText: 'timeout', message: 'spec.http[0].timeout has no value' });
  });

  it('reports a missing destination host at the destination', () => {
    const text = vs(`
hosts: [reviews]
http:
- route:
  - destination:
      subset: v1
`);
    expectOne(text, 'MISSING_FIELD', { atText: 'destination', message: 'spec.http[0].route[0].destination: missing required field `host`', hint: 'add `host:`' });
  });

  it('rejects invalid hosts and gateway references', () => {
    expectOne(vs('hosts: [Bad_Host]\nhttp: [{route: [{destination: {host: a}}]}]'), 'INVALID_NAME', { atText: 'Bad_Host', message: 'is not a valid host' });
    expectOne(vs('hosts: [a]\ngateways: [a/b/c]\nhttp: [{route: [{destination: {host: a}}]}]'), 'INVALID_NAME', { atText: 'a/b/c', message: 'gateway reference' });
  });
});

describe('VirtualService schema: ranges', () => {
  it.each([
    ['weight above 100', '    weight: 120', 'between 0 and 100, got 120'],
    ['negative weight', '    weight: -1', 'between 0 and 100, got -1'],
    ['delay percentage above 100', '  fault: {delay: {fixedDelay: 1s, percentage: {value: 100.5}}}', 'between 0 and 100'],
    ['abort status above 599', '  fault: {abort: {httpStatus: 600}}', 'between 200 and 599, got 600'],
    ['abort status below 200', '  fault: {abort: {httpStatus: 199}}', 'between 200 and 599'],
    ['negative attempts', '  retries: {attempts: -1}', 'between 0 and'],
    ['port 0', '  mirror: {host: reviews, port: {number: 0}}', 'between 1 and 65535'],
    ['port above 65535', '  mirror: {host: reviews, port: {number: 70000}}', 'between 1 and 65535'],
    ['mirror percentage', '  mirrorPercentage: {value: 101}', 'between 0 and 100'],
  ])('%s', (_name, extra, message) => {
    expectOne(vs(route(extra)), 'OUT_OF_RANGE', { message });
  });

  it('checks redirectCode and directResponse status', () => {
    expectOne(vs('hosts: [a]\nhttp:\n- redirect: {uri: /b, redirectCode: 200}'), 'OUT_OF_RANGE', { atText: '200', message: 'between 300 and 399' });
    expectOne(vs('hosts: [a]\nhttp:\n- directResponse: {status: 600}'), 'OUT_OF_RANGE', { atText: '600', message: 'between 200 and 599' });
  });

  it('points a range error at the value', () => {
    const text = vs(route('    weight: 120'));
    expectOne(text, 'OUT_OF_RANGE', { at: '11:15' });
  });
});

describe('VirtualService schema: durations and regexes', () => {
  it.each([
    ['timeout: 5 s', 'is not a valid duration: it contains spaces'],
    ['timeout: 5sec', 'is not a valid duration'],
    ['timeout: 0s', 'must be at least 1ms'],
    ['timeout: -1s', 'cannot be negative'],
    ['retries: {perTryTimeout: 500us}', 'must be at least 1ms'],
    ['retries: {perTryTimeout: 1500us}', 'whole number of milliseconds'],
    ['fault: {delay: {fixedDelay: 0ms, percentage: {value: 1}}}', 'must be at least 1ms'],
  ])('%s', (extra, message) => {
    expectOne(vs(route(`  ${extra}`)), 'INVALID_DURATION', { message });
  });

  it.each([
    ['{uri: {regex: "(unclosed"}}', 'is not a valid regular expression'],
    ['{uri: {regex: "/(?=x)"}}', 'lookahead and lookbehind are not supported by RE2'],
    ['{headers: {x: {regex: "(a)\\\\1"}}}', 'backreference'],
  ])('match %s', (match, message) => {
    const text = vs(`hosts: [a]\nhttp:\n- match: [${match}]\n  route: [{destination: {host: a}}]`);
    expectOne(text, 'INVALID_REGEX', { message });
  });

  it('checks uriRegexRewrite.match', () => {
    expectOne(vs(route('  rewrite: {uriRegexRewrite: {match: "[", rewrite: /x}}')), 'INVALID_REGEX', { atText: '"["' });
  });

  it('checks corsPolicy.allowOrigins regexes (RE2), at the regex', () => {
    expectOne(vs(route('  corsPolicy: {allowOrigins: [{regex: "https://(?!evil).*"}]}')), 'INVALID_REGEX', { atText: '"https://(?!evil).*"', message: 'lookahead' });
  });

  it('accepts a leading (?i)', () => {
    expectValid(vs(`hosts: [a]\nhttp:\n- match: [{uri: {regex: "(?i)/ABC.*"}}]\n  route: [{destination: {host: a}}]`));
  });
});

describe('VirtualService schema: oneof and required rules', () => {
  it('StringMatch takes exactly one of exact, prefix, regex', () => {
    const text = vs(`hosts: [a]\nhttp:\n- match:\n  - uri: {exact: /a, prefix: /b}\n  route: [{destination: {host: a}}]`);
    expectOne(text, 'CONFLICTING_FIELDS', { atText: 'prefix', message: 'spec.http[0].match[0].uri: `exact` and `prefix` cannot be used together (StringMatch takes exactly one of' });
    expectOne(vs(`hosts: [a]\nhttp:\n- match:\n  - uri: {}\n  route: [{destination: {host: a}}]`), 'MISSING_ONE_OF', { atText: 'uri', message: 'needs one of `exact`, `prefix` or `regex`' });
  });

  it('a header match may be {} (presence) but not two kinds at once', () => {
    expectValid(vs(`hosts: [a]\nhttp:\n- match: [{headers: {x-user: {}}}]\n  route: [{destination: {host: a}}]`));
    expectOne(vs(`hosts: [a]\nhttp:\n- match: [{headers: {x-user: {exact: a, regex: b}}}]\n  route: [{destination: {host: a}}]`), 'CONFLICTING_FIELDS', { atText: 'regex' });
  });

  it('an empty match block is invalid', () => {
    const text = vs(`hosts: [a]\nhttp:\n- match:\n  - {}\n  route: [{destination: {host: a}}]`);
    expectOne(text, 'EMPTY_VALUE', { atText: '{}', message: 'empty match block', hint: 'a route without `match` matches every request' });
  });

  it.each([
    ['route and redirect', 'route: [{destination: {host: a}}]\n  redirect: {uri: /b}', 'redirect'],
    ['route and directResponse', 'route: [{destination: {host: a}}]\n  directResponse: {status: 503}', 'directResponse'],
    ['route and delegate', 'route: [{destination: {host: a}}]\n  delegate: {name: other}', 'delegate'],
  ])('%s exclude each other', (_n, body, second) => {
    const text = vs(`hosts: [a]\nhttp:\n- ${body}`);
    expectOne(text, 'CONFLICTING_FIELDS', { atText: `${second}:`, message: 'cannot be used together (HTTPRoute takes exactly one of `route`, `redirect`, `directResponse` or `delegate`)' });
  });

  it('an HTTP route needs route, redirect, directResponse or delegate', () => {
    expectOne(vs('hosts: [a]\nhttp:\n- timeout: 1s'), 'MISSING_ONE_OF', { atText: 'timeout', message: 'spec.http[0] needs one of `route`, `redirect`, `directResponse` or `delegate`' });
  });

  it('rewrite cannot be used with redirect', () => {
    expectOne(vs('hosts: [a]\nhttp:\n- redirect: {uri: /b}\n  rewrite: {uri: /c}'), 'CONFLICTING_FIELDS', { atText: 'rewrite', message: '`rewrite` cannot be used together with `redirect`' });
  });

  it('rewrite takes uri or uriRegexRewrite, not both, and something', () => {
    expectOne(vs(route('  rewrite: {uri: /a, uriRegexRewrite: {match: a, rewrite: b}}')), 'CONFLICTING_FIELDS', { atText: 'uriRegexRewrite' });
    expectOne(vs(route('  rewrite: {}')), 'MISSING_ONE_OF', { message: 'needs at least one of `uri`, `authority` or `uriRegexRewrite`' });
  });

  it('redirect takes port or derivePort, and needs something to change', () => {
    expectOne(vs('hosts: [a]\nhttp:\n- redirect: {port: 8080, derivePort: FROM_REQUEST_PORT}'), 'CONFLICTING_FIELDS', { atText: 'derivePort' });
    expectOne(vs('hosts: [a]\nhttp:\n- redirect: {redirectCode: 302}'), 'MISSING_ONE_OF', { message: 'needs at least one of `uri`, `authority`, `scheme`, `port` or `derivePort`' });
    expectOne(vs('hosts: [a]\nhttp:\n- redirect: {uri: /b, derivePort: FROM_REQUEST}'), 'VALUE_NOT_ALLOWED', { atText: 'FROM_REQUEST}', hint: 'did you mean `FROM_REQUEST_PORT`?' });
  });

  it('abort needs httpStatus, grpcStatus or http2Error, exactly one', () => {
    expectOne(vs(route('  fault: {abort: {percentage: {value: 10}}}')), 'MISSING_ONE_OF', { atText: 'abort', message: 'needs one of `httpStatus`, `grpcStatus` or `http2Error`' });
    expectOne(vs(route('  fault: {abort: {httpStatus: 503, grpcStatus: UNAVAILABLE}}')), 'CONFLICTING_FIELDS', { atText: 'grpcStatus' });
    expectOne(vs(route('  fault: {abort: {grpcStatus: unavailable}}')), 'VALUE_NOT_ALLOWED', { hint: 'did you mean `UNAVAILABLE`?' });
  });

  it('a fault needs a delay or an abort; a delay needs fixedDelay', () => {
    expectOne(vs(route('  fault: {}')), 'MISSING_ONE_OF', { message: 'needs at least one of `delay` or `abort`' });
    expectOne(vs(route('  fault: {delay: {percentage: {value: 5}}}')), 'MISSING_ONE_OF', { message: 'needs one of `fixedDelay` or `exponentialDelay`' });
  });

  it('rejects what Istio rejects: exponentialDelay, http2Error', () => {
    expectOne(vs(route('  fault: {delay: {exponentialDelay: 1s}}')), 'UNSUPPORTED_VALUE', { atText: 'exponentialDelay', hint: 'fixedDelay' });
    expectOne(vs(route('  fault: {abort: {http2Error: x}}')), 'UNSUPPORTED_VALUE', { atText: 'http2Error' });
  });

  it('JWT claim based routing (@request.auth.claims.*) is reported as recognised but not applied', () => {
    expectOne(vs(route('  match: [{headers: {"@request.auth.claims.groups": {exact: group1}}}]')), 'FIELD_NOT_APPLIED', {
      atText: '"@request.auth.claims.groups"',
      message: 'JWT claim based routing is not applied',
    });
  });

  it('directResponse needs a status; its body is string or bytes', () => {
    expectOne(vs('hosts: [a]\nhttp:\n- directResponse: {body: {string: x}}'), 'MISSING_FIELD', { message: 'missing required field `status`' });
    expectOne(vs('hosts: [a]\nhttp:\n- directResponse: {status: 200, body: {string: x, bytes: eA==}}'), 'CONFLICTING_FIELDS', { atText: 'bytes' });
  });

  it('mirror and mirrors exclude each other', () => {
    expectOne(vs(route('  mirror: {host: b}\n  mirrors: [{destination: {host: c}}]')), 'CONFLICTING_FIELDS', { atText: 'mirrors' });
  });

  it('route must not be an empty list', () => {
    expectOne(vs('hosts: [a]\nhttp:\n- route: []'), 'EMPTY_VALUE', { atText: 'route', message: 'spec.http[0].route is an empty list' });
  });

  it('checks retryOn policies', () => {
    expectOne(vs(route('  retries: {attempts: 2, retryOn: "gateway_error,5xx"}')), 'INVALID_RETRY_ON', { atText: '"gateway_error', message: '"gateway_error" is not a retry policy', hint: 'did you mean `gateway-error`?' });
    expectOne(vs(route('  retries: {attempts: 2, retryOn: "5xx, reset"}')), 'INVALID_RETRY_ON', { hint: 'without spaces' });
    expectOne(vs(route('  retries: {attempts: 2, retryOn: "5xx,999"}')), 'INVALID_RETRY_ON', { message: '999 is not an HTTP status code' });
  });
});

describe('VirtualService schema: delegates, deprecations, tcp/tls', () => {
  it('a VirtualService without hosts is a delegate and may not have gateways or delegate again', () => {
    expectValid(vs('http:\n- route: [{destination: {host: a}}]'));
    expectOne(vs('gateways: [gw]\nhttp:\n- route: [{destination: {host: a}}]'), 'DELEGATE_RULES', { atText: 'gateways', message: 'a delegate cannot have `gateways`' });
    expectOne(vs('hosts: []\nhttp:\n- delegate: {name: other}'), 'DELEGATE_RULES', { atText: 'delegate', message: 'cannot delegate again' });
    expectValid(vs('hosts: [a]\nhttp:\n- match: [{uri: {prefix: /x}}]\n  delegate: {name: other, namespace: ns}'));
  });

  it('accepts deprecated fields with a warning saying what replaces them', () => {
    const text = vs(`hosts: [a]\nhttp:\n- fault:\n    delay: {percent: 50, fixedDelay: 1s}\n    abort: {percent: 10, httpStatus: 500}\n  corsPolicy: {allowOrigin: ["*"]}\n  route: [{destination: {host: a}}]`);
    const r = expectValid(text);
    const warnings = withCode(r.findings, 'DEPRECATED_FIELD');
    expect(warnings.map((w) => w.message)).toEqual([
      'spec.http[0].fault.delay.percent is deprecated (still accepted by Istio and meshbox)',
      'spec.http[0].fault.abort.percent is deprecated (still accepted by Istio and meshbox)',
      'spec.http[0].corsPolicy.allowOrigin is deprecated (still accepted by Istio and meshbox)',
    ]);
    expect(warnings.every((w) => w.severity === 'warning')).toBe(true);
    expect(warnings[0]!.hint).toBe('use `percentage: {value: <0-100>}`');
    expect(warnings[2]!.hint).toContain('allowOrigins');
    expect(r.applied).toBe(true);
  });

  it('validates tcp and tls routes (applied: no "not applied" warning)', () => {
    const text = vs('hosts: [db]\ntcp:\n- match: [{port: 27017}]\n  route: [{destination: {host: db, port: {number: 5555}}}]');
    const r = expectValid(text);
    expect(withCode(r.findings, 'FIELD_NOT_APPLIED')).toEqual([]);
    expectOne(vs('hosts: [a]\ntls:\n- route: [{destination: {host: a}}]'), 'MISSING_FIELD', { message: 'missing required field `match`' });
  });

  it('reports every problem of a document at once', () => {
    const r = parse(vs(route('    weight: 120\n  timeout: 5x\n  retries: {attempts: "2"}')));
    expect(r.findings.map((f) => f.code).sort()).toEqual(['MB1101', 'MB1104', 'MB1107']);
    expect(r.applied).toBe(false);
    expect(r.resources).toEqual([]);
  });
});

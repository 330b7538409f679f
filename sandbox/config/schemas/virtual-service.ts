/**
 * JSON Schema of VirtualService `spec` (istio/api networking/v1 virtual_service.proto), with the
 * rules Istio's validation webhook enforces: oneofs, ranges, durations >= 1ms, RE2 regexes,
 * non-empty match blocks.
 */
import {
  atLeastOneOf,
  atMostOneOf,
  bool,
  deprecated,
  duration,
  exactlyOneOf,
  fmt,
  int,
  INT32_MAX,
  list,
  map,
  notApplied,
  obj,
  oneOfValues,
  str,
  strings,
} from './json-schema.js';
import type { JsonSchema } from './json-schema.js';
import { destination, exportTo, headers, labelMap, percent, portNumber, presenceOrStringMatch, stringMatch } from './common.js';

export const GRPC_STATUS_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE',
  'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
] as const;

const gatewayRefs = strings(
  'Gateways (`<name>` or `<namespace>/<name>`) where the rule applies; `mesh` means all sidecars.',
  fmt('gateway-ref', 'A gateway name, `<namespace>/<name>`, or `mesh`.'),
);

const matchRequest: JsonSchema = obj(
  'HTTPMatchRequest',
  'Conditions that must all hold (AND) for the route to match; an empty match block is invalid.',
  {
    name: notApplied(str('Name of the match, appended to the route name in access logs.'), 'access logs show the route name only'),
    uri: stringMatch,
    scheme: stringMatch,
    method: stringMatch,
    authority: stringMatch,
    headers: map(presenceOrStringMatch, 'Header matches by lowercase header name; `{}` checks presence.'),
    withoutHeaders: map(presenceOrStringMatch, 'Headers that must NOT match.'),
    queryParams: map(presenceOrStringMatch, 'Query parameter matches; `exact: ""` matches `?key` without a value.'),
    port: portNumber('Port of the host being addressed.'),
    sourceLabels: labelMap('Only apply the rule to client workloads that carry these labels.'),
    sourceNamespace: fmt('dns1123-label', 'Only apply the rule to client workloads in this namespace.'),
    gateways: gatewayRefs,
    ignoreUriCase: bool('Match `uri` exact/prefix ignoring case.'),
    statPrefix: notApplied(str('Prefix of proxy statistics for this route.'), 'meshbox keeps no per-route statistics'),
  },
  { minProperties: 1 },
);

const routeDestination: JsonSchema = obj(
  'HTTPRouteDestination',
  'A weighted destination of an HTTP route.',
  {
    destination,
    weight: int('Relative share of traffic: weight / sum of weights. A single destination gets all traffic.', 0, 100),
    headers,
  },
  { required: ['destination'] },
);

const redirect: JsonSchema = obj(
  'HTTPRedirect',
  'Answer with an HTTP redirect instead of forwarding.',
  {
    uri: str('Replace the whole path with this value.'),
    authority: str('Replace the authority (host) with this value.'),
    port: portNumber('Replace the port with this value.'),
    derivePort: oneOfValues(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT'], 'Set the port from the scheme (80/443) or keep the request port.'),
    scheme: oneOfValues(['http', 'https'], 'Replace the scheme with this value.'),
    redirectCode: int('HTTP status of the redirect (default 301).', 300, 399),
  },
  { rules: [atMostOneOf('port', 'derivePort'), atLeastOneOf('uri', 'authority', 'scheme', 'port', 'derivePort')] },
);

const directResponse: JsonSchema = obj(
  'HTTPDirectResponse',
  'Answer with a fixed response instead of forwarding.',
  {
    status: int('HTTP status of the response (200-599).', 200, 599),
    body: obj(
      'HTTPBody',
      'Response body: `string` or base64 `bytes`.',
      {
        string: str('Body as text.'),
        bytes: str('Body as base64.', { pattern: '^[A-Za-z0-9+/]*={0,2}$' }),
      },
      { rules: [exactlyOneOf('string', 'bytes')] },
    ),
  },
  { required: ['status'] },
);

const delegate: JsonSchema = obj(
  'Delegate',
  'Hand this route over to the http routes of another VirtualService (one level only).',
  {
    name: fmt('dns1123-subdomain', 'Name of the delegate VirtualService.'),
    namespace: fmt('dns1123-label', 'Namespace of the delegate VirtualService (default: this one).'),
  },
  { required: ['name'] },
);

const rewrite: JsonSchema = obj(
  'HTTPRewrite',
  'Rewrite the path and/or authority before forwarding.',
  {
    uri: str('Replace the matched prefix (or the whole path for other matches) with this value.'),
    authority: str('Replace the authority (host) with this value.'),
    uriRegexRewrite: obj(
      'RegexRewrite',
      'Rewrite the path with a regular expression.',
      {
        match: fmt('re2', 'RE2 regular expression.'),
        rewrite: str('Replacement; `\\1`, `\\2`... insert capture groups.'),
      },
      { required: ['match', 'rewrite'] },
    ),
  },
  { rules: [atMostOneOf('uri', 'uriRegexRewrite'), atLeastOneOf('uri', 'authority', 'uriRegexRewrite')] },
);

const retries: JsonSchema = obj('HTTPRetry', 'Retry policy of the route.', {
  attempts: int('Number of retries (at most 1 + attempts requests); 0 disables retries.', 0, INT32_MAX),
  perTryTimeout: duration('Timeout of each attempt, at least 1ms (default: the route timeout).', true),
  retryOn: str('Comma-separated Envoy retry policies (`5xx`, `gateway-error`, `connect-failure`, `refused-stream`, `reset`, `retriable-4xx`, ...) and status codes (`503`).'),
  retryRemoteLocalities: notApplied(bool('Retry in other localities.'), 'meshbox has a single locality'),
  retryIgnorePreviousHosts: bool('Prefer another endpoint than the one that failed (default true).'),
  backoff: duration('Base interval of the exponential back-off between retries (default 25ms), at least 1ms.', true),
});

const faultPercent = deprecated(int('Percentage of requests, 0-100, whole numbers only.', 0, 100), 'use `percentage: {value: <0-100>}`');

const fault: JsonSchema = obj(
  'HTTPFaultInjection',
  'Faults injected on the client side: a delay, an abort, or both (sampled independently).',
  {
    delay: obj(
      'Delay',
      'Delay requests before forwarding them.',
      {
        percent: faultPercent,
        fixedDelay: duration('How long to delay, at least 1ms.', true),
        exponentialDelay: duration('Not supported by Istio: use fixedDelay.', true),
        percentage: percent,
      },
      { rules: [exactlyOneOf('fixedDelay', 'exponentialDelay')] },
    ),
    abort: obj(
      'Abort',
      'Answer requests with an error instead of forwarding them.',
      {
        percent: faultPercent,
        httpStatus: int('HTTP status to answer with (200-599).', 200, 599),
        grpcStatus: oneOfValues(GRPC_STATUS_NAMES, 'gRPC status name to answer with, e.g. `UNAVAILABLE`.'),
        http2Error: str('Not supported by Istio: use httpStatus or grpcStatus.'),
        percentage: percent,
      },
      { rules: [exactlyOneOf('httpStatus', 'grpcStatus', 'http2Error')] },
    ),
  },
  { rules: [atLeastOneOf('delay', 'abort')] },
);

const corsPolicy: JsonSchema = obj('CorsPolicy', 'Cross-origin resource sharing policy.', {
  allowOrigin: deprecated(strings('Allowed origins.'), 'use `allowOrigins` with `- exact: <origin>` entries'),
  allowOrigins: list(stringMatch, 'Origins allowed to make CORS requests.'),
  allowMethods: strings('Allowed HTTP methods (Access-Control-Allow-Methods).'),
  allowHeaders: strings('Allowed request headers (Access-Control-Allow-Headers).'),
  exposeHeaders: strings('Response headers browsers may read (Access-Control-Expose-Headers).'),
  maxAge: duration('How long a preflight result may be cached.'),
  allowCredentials: bool('Allow credentials (Access-Control-Allow-Credentials).'),
  unmatchedPreflights: oneOfValues(['UNSPECIFIED', 'FORWARD', 'IGNORE'], 'What to do with preflights whose origin does not match (default FORWARD).'),
});

const mirrorPolicy: JsonSchema = obj(
  'HTTPMirrorPolicy',
  'A destination that gets a copy of the traffic.',
  { destination, percentage: percent },
  { required: ['destination'] },
);

const httpRoute: JsonSchema = obj(
  'HTTPRoute',
  'One HTTP rule: match conditions and what to do; the first matching rule wins. Needs exactly one of `route`, `redirect`, `directResponse` or `delegate`.',
  {
    name: str('Name of the route, shown in access logs.'),
    match: list(matchRequest, 'Match blocks, ORed; a route without match matches every request.'),
    route: list(routeDestination, 'Weighted destinations to forward to.', { minItems: 1 }),
    redirect,
    directResponse,
    delegate: notApplied(delegate, 'meshbox does not follow delegation: requests matching this route get 503 NC'),
    rewrite,
    timeout: duration('Deadline of the whole request including retries, at least 1ms (default: none).', true),
    retries,
    fault,
    mirror: destination,
    mirrorPercentage: percent,
    mirrors: list(mirrorPolicy, 'Destinations that get a copy of the traffic, each with its own percentage.'),
    corsPolicy,
    headers,
  },
  {
    rules: [
      exactlyOneOf('route', 'redirect', 'directResponse', 'delegate'),
      atMostOneOf('rewrite', 'redirect'),
      atMostOneOf('mirror', 'mirrors'),
    ],
  },
);

const l4Destination: JsonSchema = obj(
  'RouteDestination',
  'A weighted destination of a TCP or TLS route.',
  {
    destination,
    weight: int('Relative share of connections.', 0, 100),
  },
  { required: ['destination'] },
);

const l4Common = {
  destinationSubnets: strings('Destination IPs or CIDRs.'),
  port: portNumber('Port being addressed.'),
  sourceLabels: labelMap('Only apply to client workloads with these labels.'),
  gateways: gatewayRefs,
  sourceNamespace: fmt('dns1123-label', 'Only apply to client workloads in this namespace.'),
};

const tcpRoute: JsonSchema = obj('TCPRoute', 'A rule for opaque TCP traffic.', {
  match: list(obj('L4MatchAttributes', 'Connection match conditions.', { ...l4Common, sourceSubnet: str('Source IP or CIDR.') }), 'Match blocks, ORed.'),
  route: list(l4Destination, 'Destinations.'),
});

const tlsRoute: JsonSchema = obj(
  'TLSRoute',
  'A rule for TLS traffic that is not terminated, routed by SNI.',
  {
    match: list(
      obj('TLSMatchAttributes', 'TLS connection match conditions.', { sniHosts: strings('SNI names to match.', undefined, { minItems: 1 }), ...l4Common }, { required: ['sniHosts'] }),
      'Match blocks, ORed.',
      { minItems: 1 },
    ),
    route: list(l4Destination, 'Destinations.'),
  },
  { required: ['match'] },
);

export const virtualServiceSpec: JsonSchema = obj('VirtualServiceSpec', 'Routing rules for traffic addressed to `hosts`.', {
  hosts: strings(
    'Hosts the rules apply to: service names (`reviews`, `reviews.default.svc.cluster.local`), wildcards (`*.example.com`) or `*`. Must be empty only for a delegate VirtualService.',
    fmt('istio-host', 'A host name.'),
  ),
  gateways: gatewayRefs,
  http: list(httpRoute, 'HTTP rules, in order; the first matching rule wins.'),
  tls: list(tlsRoute, 'Rules for non-terminated TLS traffic (`tls` and `https` ports, TLS PASSTHROUGH Gateway servers), matched on the ClientHello SNI; the first matching rule wins.'),
  tcp: list(tcpRoute, 'Rules for opaque TCP traffic (TCP ports, TCP Gateway servers, detected ports that are not HTTP); the first matching rule wins.'),
  exportTo: notApplied(exportTo, 'every resource is visible to the whole mesh'),
});

/**
 * JSON Schema of DestinationRule `spec` (istio/api networking/v1 destination_rule.proto).
 */
import {
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
  num,
  obj,
  oneOfValues,
  str,
  strings,
  UINT32_MAX,
} from './json-schema.js';
import type { JsonSchema } from './json-schema.js';
import { exportTo, labelMap, portNumber, portSelector, workloadSelector } from './common.js';

export const SIMPLE_LB = ['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST'] as const;

const count = (description: string): JsonSchema => int(description, 0, INT32_MAX);

const consistentHash: JsonSchema = obj(
  'ConsistentHashLB',
  'Session affinity by hashing a request property: exactly one of `httpHeaderName`, `httpCookie`, `useSourceIp` or `httpQueryParameterName`.',
  {
    httpHeaderName: str('Hash on this request header.'),
    httpCookie: obj(
      'HTTPCookie',
      'Hash on this cookie (generated with the TTL when absent).',
      {
        name: str('Cookie name.'),
        path: str('Cookie path.'),
        ttl: duration('Cookie lifetime; 0s makes a session cookie.'),
      },
      { required: ['name'] },
    ),
    useSourceIp: bool('Hash on the client IP address.'),
    httpQueryParameterName: str('Hash on this query parameter.'),
    ringHash: obj('RingHash', 'Ring hash algorithm.', { minimumRingSize: int('Minimum number of virtual nodes (default 1024).', 0) }),
    maglev: notApplied(obj('MagLev', 'Maglev algorithm.', { tableSize: int('Lookup table size, a prime below 5000011 (default 65537).', 0) }), 'ring hash (1024 entries) is used instead'),
    minimumRingSize: deprecated(int('Minimum number of virtual nodes.', 0), 'use `ringHash: {minimumRingSize: <n>}`'),
    httpHeaderRegexRewrite: notApplied(
      obj(
        'RegexRewrite',
        'Rewrite the header value before hashing it.',
        { match: fmt('re2', 'RE2 regular expression.'), rewrite: str('Replacement.') },
        { required: ['match', 'rewrite'] },
      ),
      'the header value is hashed as sent',
    ),
  },
  {
    rules: [
      exactlyOneOf('httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'),
      atMostOneOf('ringHash', 'maglev', 'minimumRingSize'),
    ],
  },
);

const localityLbSetting: JsonSchema = obj(
  'LocalityLoadBalancerSetting',
  'Locality-weighted load balancing and failover.',
  {
    distribute: list(
      obj('Distribute', 'How traffic from one locality is spread.', {
        from: str('Originating locality, `region/zone/sub_zone`, wildcards allowed.'),
        to: map(int('Weight.', 0, UINT32_MAX), 'Upstream locality -> weight (the weights should sum to 100).'),
      }),
      'Traffic distribution per originating locality.',
    ),
    failover: list(
      obj('Failover', 'Where traffic of a region fails over to.', { from: str('Originating region.'), to: str('Region to fail over to.') }),
      'Region failover policy.',
    ),
    failoverPriority: strings('Ordered labels used to prioritise endpoints for failover.'),
    enabled: bool('Enable locality load balancing for this rule.'),
  },
  { rules: [atMostOneOf('distribute', 'failover')] },
);

const loadBalancer: JsonSchema = obj(
  'LoadBalancerSettings',
  'Load balancing: `simple` or `consistentHash`.',
  {
    simple: oneOfValues(SIMPLE_LB, 'Algorithm: LEAST_REQUEST (Istio default), ROUND_ROBIN, RANDOM or PASSTHROUGH. LEAST_CONN is deprecated.'),
    consistentHash,
    localityLbSetting: notApplied(localityLbSetting, 'meshbox has a single locality'),
    warmupDurationSecs: notApplied(duration('Slow-start window of new endpoints.'), 'new endpoints get their full share at once'),
    warmup: notApplied(obj(
      'WarmupConfiguration',
      'Slow start of new endpoints.',
      {
        duration: duration('Slow-start window.'),
        minimumPercent: num('Traffic share a new endpoint starts with, 0-100.', 0, 100),
        aggression: num('How fast traffic ramps up (1 = linear).', 1),
      },
      { required: ['duration'] },
    ), 'new endpoints get their full share at once'),
  },
  { rules: [atMostOneOf('simple', 'consistentHash'), atMostOneOf('warmupDurationSecs', 'warmup')] },
);

const connectionPool: JsonSchema = obj('ConnectionPoolSettings', 'Connection and request limits (circuit breaking).', {
  tcp: obj('TCPSettings', 'Limits common to HTTP and TCP.', {
    maxConnections: count('Maximum connections to the destination (default 2^32-1).'),
    connectTimeout: duration('TCP connect timeout, at least 1ms (default 10s).', true),
    tcpKeepalive: notApplied(
      obj('TcpKeepalive', 'TCP keep-alive.', {
        probes: int('Unanswered probes before the connection is dead.', 0, UINT32_MAX),
        time: duration('Idle time before probes start.'),
        interval: duration('Time between probes.'),
      }),
      'no keep-alive probes are sent',
    ),
    maxConnectionDuration: notApplied(duration('Maximum lifetime of a connection, at least 1ms.', true), 'upstream connections have no maximum lifetime'),
    idleTimeout: notApplied(duration('Idle timeout of connections (default 1h; 0s disables it).'), 'no idle timeout is enforced on upstream connections'),
  }),
  http: obj('HTTPSettings', 'HTTP limits. Istio treats 0 as "unset" for these numbers.', {
    http1MaxPendingRequests: count('Requests queued while waiting for a connection (default 2^32-1).'),
    http2MaxRequests: count('Maximum active requests to the destination (default 2^32-1).'),
    maxRequestsPerConnection: count('Requests per connection; 1 disables keep-alive, 0 means unlimited.'),
    maxRetries: count('Maximum concurrent retries to the destination (default 2^32-1).'),
    idleTimeout: notApplied(duration('Idle timeout of upstream connections (default 1h).'), 'no idle timeout is enforced on upstream connections'),
    h2UpgradePolicy: oneOfValues(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE'], 'Whether to upgrade HTTP/1.1 connections to HTTP/2 (`UPGRADE`: requests to an `http` port go upstream as HTTP/2).'),
    useClientProtocol: bool("Use the client's HTTP protocol toward the destination (an HTTP/2 client's requests go upstream as HTTP/2)."),
    maxConcurrentStreams: count('Maximum concurrent HTTP/2 streams per upstream connection; beyond it another connection opens.'),
  }),
});

const outlierDetection: JsonSchema = obj('OutlierDetection', 'Passive health checking: eject endpoints that keep failing.', {
  splitExternalLocalOriginErrors: notApplied(bool('Count local failures (connect errors, timeouts) separately.'), 'local failures (connect errors, resets, timeouts) count with 5xx answers toward consecutive5xxErrors'),
  consecutiveLocalOriginFailures: notApplied(int('Consecutive local failures before ejection (default 5).', 0, UINT32_MAX), 'local failures count toward consecutive5xxErrors'),
  consecutiveGatewayErrors: int('Consecutive 502/503/504 before ejection (0 disables; default off).', 0, UINT32_MAX),
  consecutive5xxErrors: int('Consecutive 5xx before ejection (default 5; 0 disables).', 0, UINT32_MAX),
  consecutiveErrors: deprecated(count('Consecutive errors before ejection.'), 'use `consecutive5xxErrors` or `consecutiveGatewayErrors`'),
  interval: duration('Time between ejection sweeps, at least 1ms (default 10s).', true),
  baseEjectionTime: duration('Minimum ejection time, multiplied by the number of ejections, at least 1ms (default 30s).', true),
  maxEjectionPercent: int('Maximum share of endpoints ejected at once, 0-100 (default 10).', 0, 100),
  minHealthPercent: int('Below this share of healthy endpoints, outlier detection stops (0-100, default 0).', 0, 100),
});

const clientTls: JsonSchema = obj(
  'ClientTLSSettings',
  'TLS toward the destination.',
  {
    mode: oneOfValues(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'], 'TLS mode.'),
    clientCertificate: str('Client certificate file (required for MUTUAL without credentialName).'),
    privateKey: str('Client private key file (required for MUTUAL without credentialName).'),
    caCertificates: str('CA certificates file used to verify the server.'),
    credentialName: notApplied(str('Secret holding the client certificates.'), 'meshbox has no Kubernetes secrets: give the files (clientCertificate, privateKey, caCertificates)'),
    subjectAltNames: strings('Accepted subject alternative names of the server certificate.'),
    sni: str('SNI to present.'),
    insecureSkipVerify: bool('Skip verifying the server certificate.'),
    caCrl: notApplied(str('Certificate revocation list file.'), 'no revocation list is checked'),
  },
  {
    rules: [
      {
        if: { properties: { mode: { const: 'MUTUAL' } }, required: ['mode'], not: { required: ['credentialName'] } },
        then: { required: ['clientCertificate', 'privateKey'] },
      },
    ],
  },
);

const policyFields = {
  loadBalancer,
  connectionPool,
  outlierDetection,
  tls: clientTls,
};

const trafficPolicy: JsonSchema = obj('TrafficPolicy', 'Policies for traffic to the destination: load balancing, limits, outlier detection, TLS.', {
  ...policyFields,
  portLevelSettings: list(
    obj('PortTrafficPolicy', 'Policies for one port; each field it sets replaces the top-level one as a whole.', { port: portSelector, ...policyFields }, { required: ['port'] }),
    'Per-port policies.',
  ),
  tunnel: notApplied(obj(
    'TunnelSettings',
    'Tunnel TCP traffic through HTTP CONNECT or POST.',
    {
      protocol: oneOfValues(['CONNECT', 'POST'], 'Tunnel protocol (default CONNECT).'),
      targetHost: str('Host to tunnel to.'),
      targetPort: portNumber('Port to tunnel to.'),
    },
    { required: ['targetHost', 'targetPort'] },
  ), 'traffic is not tunnelled'),
  proxyProtocol: notApplied(
    obj('ProxyProtocol', 'Send the PROXY protocol header upstream.', {
      version: oneOfValues(['V1', 'V2'], 'PROXY protocol version (default V1).'),
    }),
    'no PROXY protocol header is sent',
  ),
  retryBudget: notApplied(
    obj('RetryBudget', 'Limit concurrent retries relative to active requests.', {
      percent: num('Share of active requests that may be retries, 0-100 (default 20).', 0, 100),
      minRetryConcurrency: int('Retries always allowed regardless of the share (default 3).', 0, UINT32_MAX),
      budgetInterval: duration('Window of requests considered for the budget.'),
    }),
    'concurrent retries are limited by connectionPool.http.maxRetries only',
  ),
});

const subset: JsonSchema = obj(
  'Subset',
  'A named set of endpoints of the service (a version), selected by labels.',
  {
    name: fmt('dns1123-label', 'Subset name, referenced by VirtualService destinations (`subset: v2`).'),
    labels: labelMap('Labels an endpoint must all carry to be in the subset (e.g. `version: v2`).'),
    trafficPolicy,
  },
  { required: ['name'] },
);

export const destinationRuleSpec: JsonSchema = obj(
  'DestinationRuleSpec',
  'Policies for traffic to `host` after routing: subsets, load balancing, connection pool, outlier detection, TLS.',
  {
    host: fmt('istio-host', 'The service the rule applies to: short (`reviews`) or fully qualified name.'),
    trafficPolicy,
    subsets: list(subset, 'Named subsets (versions) of the service.'),
    exportTo: notApplied(exportTo, 'every resource is visible to the whole mesh'),
    workloadSelector: notApplied(workloadSelector, 'the rule applies to every client workload'),
  },
  { required: ['host'] },
);

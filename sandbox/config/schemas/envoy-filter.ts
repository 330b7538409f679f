/**
 * JSON Schema of EnvoyFilter `spec` (istio/api networking/v1alpha3 envoy_filter.proto): the
 * enums and shapes Istio's API server checks. `patch.value` is free-form (a protobuf Struct that
 * only Envoy reads): what meshbox applies of it, the local rate limit, is checked by
 * ../checks/envoy-filter-checks.ts, and every patch meshbox does not apply is reported there.
 */
import { int, INT32_MAX, list, map, obj, oneOfValues, str } from './json-schema.js';
import type { JsonSchema } from './json-schema.js';
import { labelMap } from './common.js';

const APPLY_TO = [
  'INVALID', 'LISTENER', 'FILTER_CHAIN', 'NETWORK_FILTER', 'HTTP_FILTER', 'ROUTE_CONFIGURATION', 'VIRTUAL_HOST', 'HTTP_ROUTE', 'CLUSTER',
  'EXTENSION_CONFIG', 'BOOTSTRAP', 'LISTENER_FILTER',
];
const CONTEXTS = ['ANY', 'SIDECAR_INBOUND', 'SIDECAR_OUTBOUND', 'GATEWAY'];
const OPERATIONS = ['INVALID', 'MERGE', 'ADD', 'REMOVE', 'INSERT_BEFORE', 'INSERT_AFTER', 'INSERT_FIRST', 'REPLACE'];

const free = (description: string): JsonSchema => ({ type: 'object', description });
const port = (description: string): JsonSchema => int(description, 0, 65535);

const subFilter = obj('SubFilterMatch', 'An HTTP filter of the connection manager, by name.', { name: str('Filter name, e.g. `envoy.filters.http.router`.') });
const filterMatch = obj('FilterMatch', 'A network filter of the filter chain, by name.', {
  name: str('Network filter name, e.g. `envoy.filters.network.http_connection_manager`.'),
  subFilter,
});
const filterChainMatch = obj('FilterChainMatch', 'A filter chain of the listener.', {
  name: str('Filter chain name.'),
  sni: str('Server name the filter chain serves.'),
  transportProtocol: str('`raw_buffer` or `tls`.'),
  applicationProtocols: str('Application protocols (ALPN).'),
  filter: filterMatch,
  destinationPort: port('Destination port of the filter chain.'),
});
const listenerMatch = obj('ListenerMatch', 'Which listener (and filter chain, filter) the patch applies to.', {
  portNumber: port('Service or gateway port of the listener.'),
  portName: str('Deprecated: port name.'),
  filterChain: filterChainMatch,
  listenerFilter: str('Listener filter name.'),
  name: str('Listener name.'),
});
const routeMatch = obj('RouteMatch', 'A route of the virtual host.', {
  name: str('Route name.'),
  action: oneOfValues(['ANY', 'ROUTE', 'REDIRECT', 'DIRECT_RESPONSE'], 'Route action.'),
});
const vhostMatch = obj('VirtualHostMatch', 'A virtual host of the route configuration.', {
  name: str('Virtual host name, e.g. `inbound|http|9080` or `reviews.default.svc.cluster.local:9080`.'),
  domainName: str('A domain of the virtual host.'),
  route: routeMatch,
});
const routeConfigurationMatch = obj('RouteConfigurationMatch', 'Which route configuration (virtual host, route) the patch applies to.', {
  portNumber: port('Service or gateway port of the route configuration.'),
  portName: str('Gateway server port name.'),
  gateway: str('Gateway name (`<ns>/<name>`).'),
  vhost: vhostMatch,
  name: str('Route configuration name.'),
});
const clusterMatch = obj('ClusterMatch', 'Which cluster the patch applies to.', {
  portNumber: port('Service port.'),
  service: str('Service host.'),
  subset: str('Subset name.'),
  name: str('Cluster name.'),
});
const proxyMatch = obj('ProxyMatch', 'Which proxies (by version and metadata) the patch applies to.', {
  proxyVersion: str('Regular expression on the proxy version.'),
  metadata: map(str('Value.'), 'Node metadata the proxy must have.'),
});

const configPatch = obj(
  'EnvoyConfigObjectPatch',
  'One patch: where it applies and what it changes.',
  {
    applyTo: oneOfValues(APPLY_TO, 'The kind of Envoy configuration object the patch applies to.'),
    match: obj('EnvoyConfigObjectMatch', 'Which objects of that kind the patch applies to.', {
      context: oneOfValues(CONTEXTS, 'Sidecar inbound, sidecar outbound, gateway, or any.'),
      proxy: proxyMatch,
      listener: listenerMatch,
      routeConfiguration: routeConfigurationMatch,
      cluster: clusterMatch,
    }),
    patch: obj('Patch', 'The change.', {
      operation: oneOfValues(OPERATIONS, 'How to apply the value.'),
      value: free('The Envoy configuration to merge, add or insert (a protobuf Struct).'),
      filterClass: oneOfValues(['UNSPECIFIED', 'AUTHN', 'AUTHZ', 'STATS'], 'Where to put an added filter.'),
    }),
  },
);

export const envoyFilterSpec: JsonSchema = obj('EnvoyFilterSpec', 'Patches to the Envoy configuration Istio generates for the selected proxies.', {
  workloadSelector: obj('WorkloadSelector', 'Selects proxies by their labels (none: every proxy of the namespace; in the root namespace istio-system, of the mesh).', {
    labels: labelMap('Labels a proxy must all carry.'),
  }),
  targetRefs: list(free('A Gateway API resource.'), 'Resources the filter attaches to.'),
  configPatches: list(configPatch, 'The patches, applied in order.'),
  priority: int('Order among EnvoyFilters of the same context (lower first; default 0).', -INT32_MAX, INT32_MAX),
});

/**
 * JSON Schema of ServiceEntry `spec` (istio/api networking/v1 service_entry.proto): hosts outside
 * (or inside) the mesh that sidecars may call. Rules Istio's validation adds (STATIC needs
 * endpoints, NONE takes none, ...) are in ../checks/service-entry-checks.ts.
 */
import { fmt, int, list, map, notApplied, obj, oneOfValues, str, strings } from './json-schema.js';
import type { JsonSchema } from './json-schema.js';
import { exportTo, labelMap, portNumber } from './common.js';

const port: JsonSchema = obj(
  'ServicePort',
  'A port of the service: its number, protocol and name.',
  {
    number: portNumber('Port number callers use.'),
    protocol: str('HTTP, HTTPS, GRPC, HTTP2, MONGO, TCP or TLS (any case). meshbox routes the HTTP ones (HTTP, HTTP2, GRPC).'),
    name: str('Port name.'),
    targetPort: portNumber('Port of the endpoints the traffic goes to (default: `number`).'),
  },
  { required: ['number'] },
);

const endpoint: JsonSchema = obj(
  'WorkloadEntry',
  'An endpoint of the service.',
  {
    address: str('IP address (STATIC) or host name (DNS) of the endpoint.', { minLength: 1 }),
    ports: map(portNumber('Endpoint port.'), 'Endpoint port per service port name.'),
    labels: labelMap('Labels of the endpoint (DestinationRule subsets select them).'),
    network: notApplied(str('Network of the endpoint.'), 'meshbox has a single network'),
    locality: notApplied(str('Locality of the endpoint.'), 'meshbox has a single locality'),
    weight: int('Load balancing weight.', 0, 4294967295),
    serviceAccount: notApplied(str('Service account of the endpoint.'), 'endpoints outside the mesh have no workload identity in meshbox'),
  },
);

export const serviceEntrySpec: JsonSchema = obj('ServiceEntrySpec', 'Hosts that sidecars may call, outside or inside the mesh, with their ports and endpoints.', {
  hosts: strings('Host names (a wildcard left-most label allowed): matched against the Host of requests.', fmt('istio-host', 'A host name.'), { minItems: 1 }),
  addresses: notApplied(strings('Virtual IPs of the service.'), 'requests are matched by Host, not by destination address'),
  ports: list(port, 'Ports of the service.', { minItems: 1 }),
  location: oneOfValues(['MESH_EXTERNAL', 'MESH_INTERNAL'], 'Outside the mesh (default) or part of it.'),
  resolution: oneOfValues(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS'], 'How endpoints are found: NONE (the address the caller asked for), STATIC (endpoints IPs), DNS (host or endpoint names).'),
  endpoints: list(endpoint, 'Endpoints of the service.'),
  workloadSelector: notApplied(
    obj('WorkloadSelector', 'Selects mesh workloads as endpoints, by their labels.', { labels: labelMap('Labels a workload must all carry.') }),
    'endpoints come from `endpoints` only',
  ),
  exportTo: notApplied(exportTo, 'every resource is visible to the whole mesh'),
  subjectAltNames: notApplied(strings('SANs the endpoints may present.'), 'a DestinationRule tls.subjectAltNames is checked; these are not'),
}, { required: ['hosts', 'ports'] });

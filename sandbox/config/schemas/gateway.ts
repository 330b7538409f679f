/**
 * JSON Schema of Gateway `spec` (istio/api networking/v1 gateway.proto).
 */
import { bool, fmt, list, notApplied, obj, oneOfValues, str, strings } from './json-schema.js';
import type { JsonSchema } from './json-schema.js';
import { labelMap, portNumber } from './common.js';

/** Protocols a Gateway server port may use (Istio parses them ignoring case). */
export const GATEWAY_PROTOCOLS = ['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'MONGO', 'TCP', 'TLS'] as const;

const TLS_VERSIONS = ['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3'];

const port: JsonSchema = obj(
  'Port',
  'The port the gateway listens on.',
  {
    number: portNumber('Port number (1-65535). meshbox serves port-80 HTTP servers on its ingress address and port, every other server port on loopback at the same number (`meshbox up --gateway-port` maps it).'),
    protocol: fmt('gateway-protocol', `Protocol: ${GATEWAY_PROTOCOLS.join(', ')}.`, { examples: [...GATEWAY_PROTOCOLS] }),
    name: str('Name of the port, unique across the servers of the gateway.'),
    targetPort: { type: 'integer', description: 'Not allowed on a Gateway (only used by ServiceEntry).' },
  },
  { required: ['number', 'protocol', 'name'] },
);

const certificateNeeded: JsonSchema = {
  if: {
    properties: { mode: { enum: ['SIMPLE', 'MUTUAL', 'OPTIONAL_MUTUAL'] } },
    required: ['mode'],
    not: { anyOf: [{ required: ['credentialName'] }, { required: ['credentialNames'] }] },
  },
  then: { required: ['serverCertificate', 'privateKey'] },
};

const clientCaNeeded: JsonSchema = {
  if: {
    properties: { mode: { enum: ['MUTUAL', 'OPTIONAL_MUTUAL'] } },
    required: ['mode'],
    not: { anyOf: [{ required: ['credentialName'] }, { required: ['credentialNames'] }] },
  },
  then: { required: ['caCertificates'] },
};

const serverTls: JsonSchema = obj(
  'ServerTLSSettings',
  'TLS settings of the server.',
  {
    httpsRedirect: notApplied(bool('Answer plain HTTP requests with a 301 redirect to HTTPS.'), 'plain HTTP requests are served, not redirected'),
    mode: oneOfValues(['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL'], 'TLS mode. meshbox serves PASSTHROUGH (routed by SNI with `tls` routes, not terminated); the ingress terminates no TLS, so servers of the other modes get no traffic.'),
    serverCertificate: str('Server certificate file (SIMPLE/MUTUAL without credentialName).'),
    privateKey: str('Server private key file (SIMPLE/MUTUAL without credentialName).'),
    caCertificates: str('CA certificates file used to verify client certificates (MUTUAL).'),
    caCrl: str('Certificate revocation list file.'),
    credentialName: str('Secret holding the certificates.'),
    credentialNames: strings('Secrets holding certificates (one per key type).'),
    subjectAltNames: strings('Accepted subject alternative names of client certificates.'),
    verifyCertificateSpki: strings('Accepted SPKI hashes (base64 SHA-256) of client certificates.'),
    verifyCertificateHash: strings('Accepted hashes (hex SHA-256) of client certificates.'),
    minProtocolVersion: oneOfValues(TLS_VERSIONS, 'Minimum TLS version.'),
    maxProtocolVersion: oneOfValues(TLS_VERSIONS, 'Maximum TLS version.'),
    cipherSuites: strings('Allowed cipher suites.'),
  },
  { rules: [certificateNeeded, clientCaNeeded] },
);

const server: JsonSchema = obj(
  'Server',
  'One listener of the gateway: a port and the hosts it serves.',
  {
    port,
    bind: notApplied(str('IP or Unix socket to bind to.'), 'the ingress listens on meshbox.yaml `ingress.host` and --ingress-port'),
    hosts: strings(
      'Hosts served: `[namespace/]dnsName`, wildcards allowed (`*.example.com`, `*`). A VirtualService bound to the gateway must use one of them.',
      fmt('gateway-host', 'A host, optionally prefixed by `namespace/`.'),
      { minItems: 1 },
    ),
    tls: serverTls,
    defaultEndpoint: str('Not implemented by Istio.'),
    name: str('Name of the server, unique across servers.'),
  },
  { required: ['port', 'hosts'] },
);

export const gatewaySpec: JsonSchema = obj(
  'GatewaySpec',
  'A load balancer at the edge of the mesh: which gateway proxies (selector) listen on which ports for which hosts.',
  {
    servers: list(server, 'The servers (listeners) of the gateway.', { minItems: 1 }),
    selector: labelMap('Labels of the gateway proxies this applies to, e.g. `istio: ingressgateway`.'),
  },
  { required: ['servers'] },
);

/**
 * JSON Schema of meshbox.yaml (the format is documented in ../mesh-file.ts).
 */
import { atLeastOneOf, duration, exactlyOneOf, fmt, int, list, map, num, obj, oneOfValues, str, strings } from './json-schema.js';
import type { JsonSchema } from './json-schema.js';
import { labelMap, portNumber } from './common.js';
import { hoistSharedSchemas } from './hoist.js';

const scalar = (description: string): JsonSchema => ({ type: ['string', 'number', 'boolean'], description });

const command: JsonSchema = {
  type: ['string', 'array'],
  description: 'How to start one instance: a shell command line (run with /bin/sh -c) or an argv list.',
  minLength: 1,
  minItems: 1,
  items: { type: 'string' },
  examples: ['node main.js', ['java', '-jar', 'app.jar']],
};

const build: JsonSchema = {
  type: ['string', 'object'],
  title: 'Build',
  description: 'Docker build: a context folder (relative to meshbox.yaml), or {context, dockerfile, args}.',
  minLength: 1,
  properties: {
    context: str('Build context folder, relative to meshbox.yaml.', { minLength: 1 }),
    dockerfile: str('Dockerfile path relative to the context (default `Dockerfile`).', { minLength: 1 }),
    args: map(scalar('Build argument value.'), 'Build arguments.'),
  },
  required: ['context'],
  additionalProperties: false,
};

const health: JsonSchema = {
  type: ['string', 'object'],
  title: 'HealthCheck',
  description: 'Health check of each instance: an HTTP path (`/actuator/health`) or {kind, path, interval, timeout, unhealthyThreshold}. Default: an HTTP GET of `/` on the first port (a TCP connect when that port is served as TCP).',
  pattern: '^/',
  properties: {
    kind: oneOfValues(['http', 'tcp'], 'How to probe: `http` GETs `path` (2xx/3xx is healthy), `tcp` opens a connection to the first port (a Kubernetes tcpSocket probe; for gRPC or TCP servers). Default `http`, or `tcp` when the first port is served as TCP.'),
    path: str('HTTP path probed on the instance; 2xx/3xx is healthy (default `/`).', { pattern: '^/' }),
    interval: duration('Time between probes (default 2s).', true),
    timeout: duration('Time before a probe counts as failed (default 1s).', true),
    unhealthyThreshold: int('Consecutive failures before an instance is unhealthy (default 3).', 1, 100),
  },
  additionalProperties: false,
};

const watch: JsonSchema = obj(
  'Watch',
  "Hot reload of the service's code: restart (or rebuild, then restart) only this service when files matching `paths` change.",
  {
    paths: strings('Files, folders or glob patterns (`**`, `*`, `?`, `{a,b}`), relative to meshbox.yaml; a folder means everything under it.', str('Path or glob pattern.', { minLength: 1 }), { minItems: 1 }),
    ignore: strings('Glob patterns of paths whose changes are ignored, relative to meshbox.yaml; a pattern without `/` matches a file or folder name anywhere (`*.test.ts`).', str('Glob pattern.', { minLength: 1 })),
    action: oneOfValues(['restart', 'rebuild'], '`rebuild`: run `build`, then restart; `restart`: restart only. Default: `rebuild` when `build` is set, else `restart`.'),
    build: { ...command, description: 'Build command run (in the service `cwd`) before the restart: a shell command line or an argv list, e.g. `npm run build`.' },
  },
  { required: ['paths'] },
);

const env = map(scalar('Value; numbers and booleans are converted to strings.'), 'Environment variables of the instances.', fmt('env-name', 'Variable name.'));

const labels = {
  ...labelMap('Extra pod labels (`app` and `version` are set by meshbox).'),
  additionalProperties: { type: ['string', 'number', 'boolean'], format: 'label-value', description: 'Label value.' } as JsonSchema,
};

const workloadFields = {
  command,
  cwd: str('Working directory, relative to meshbox.yaml (default: its folder).', { minLength: 1 }),
  image: str('Docker image (`name:tag`) for the Docker runtime.', { minLength: 1 }),
  build,
  env,
  labels,
  health,
  startTimeout: duration('How long an instance may take to become healthy (default 30s).', true),
  replicas: int('Number of instances (0-50, default 1).', 0, 50),
  serviceAccount: fmt('dns1123-subdomain', 'Kubernetes service account of the workload: its identity `spiffe://cluster.local/ns/<namespace>/sa/<serviceAccount>` (default: the service name).'),
};

const version: JsonSchema = obj('Version', 'Per-version overrides: command, cwd, image, build, health, replicas, startTimeout replace; env and labels are merged.', {
  ...workloadFields,
  workload: fmt('dns1123-subdomain', 'Workload name as Istio reports it (default `<service>-<version>`).'),
});

const servicePort: JsonSchema = obj(
  'ServicePort',
  'One port of the service, as a Kubernetes Service port: its protocol is `appProtocol`, else the prefix of `name` (`http`, `http2`, `grpc`, `grpc-web`, `tcp`, `tls`, `https`, `mongo`, `mysql`, `redis`), else detected per connection (README "Ports and protocols").',
  {
    name: fmt('dns1123-label', 'Port name, `<protocol>[-<suffix>]` (`grpc-api`, `tcp-db`); the app listens on `PORT_<NAME>` (upper-cased, `-` as `_`).'),
    port: portNumber('The Service port clients address (`callme-service:9090`).'),
    targetPort: portNumber('The container port the Service sends to (Kubernetes `targetPort`); informational: the app listens on `PORT_<NAME>`.'),
    appProtocol: str('Protocol of the port (Kubernetes `appProtocol`): wins over the name.', { minLength: 1, examples: ['http', 'http2', 'grpc', 'tcp', 'tls', 'kubernetes.io/h2c'] }),
  },
  { required: ['port'] },
);

const service: JsonSchema = obj(
  'Service',
  'A service: its port (or ports), how to start it, and its versions.',
  {
    port: portNumber('The Service port apps address it by (`callme-service:8080`): one unnamed port, its protocol detected per connection (HTTP is served as HTTP). Or give `ports`.'),
    ports: list(servicePort, 'Several named ports, like a Kubernetes Service; the first is `PORT`, health checks use it.', { minItems: 1 }),
    ...workloadFields,
    watch,
    versions: map(version, 'Versions of the service (`v1`, `v2`, ...), each a workload with the label `version: <name>`. Default: one version `v1`.', fmt('dns1123-label', 'Version name.')),
  },
  { rules: [exactlyOneOf('port', 'ports')] },
);

export const meshFileSchema: JsonSchema = obj(
  'MeshFile',
  'meshbox.yaml: the services of the mesh, their versions and how to start them.',
  {
    name: str('Name of the mesh (default: the folder name).', { minLength: 1 }),
    namespace: fmt('dns1123-label', 'Namespace of the services (default `default`).'),
    rules: str('Folder of the Istio rules, relative to meshbox.yaml (default `./rules`).', { minLength: 1 }),
    ingress: obj('Ingress', 'Where the ingress gateway listens.', {
      host: str('Address to listen on (default 127.0.0.1).', { minLength: 1 }),
      port: portNumber('Port to listen on (default 8080).'),
      labels: labelMap('Labels of the gateway proxy, matched by Gateway `selector` and by the `selector` of RequestAuthentication and AuthorizationPolicy in `istio-system` (default `istio: ingressgateway`).'),
      gatewayTopology: obj('GatewayTopology', "Istio's ProxyConfig gatewayTopology of the ingress gateway.", {
        numTrustedProxies: int(
          'Trusted proxies in front of the gateway (Envoy xff_num_trusted_hops, default 0): the client address (`remoteIpBlocks`, `remote.ip`, x-envoy-external-address) is the Nth address from the right of X-Forwarded-For; with 0 it is the connection peer and a client-sent x-forwarded-proto is replaced.',
          0,
          32,
        ),
      }),
    }),
    tracing: obj('Tracing', 'Spans of every proxy (README "Tracing"); the command line overrides each field.', {
      sampling: num('Percentage of new traces recorded, 0 to 100 (default 100; `--trace-sampling`). Telemetry resources refine it.', 0, 100),
      otlpEndpoint: str('OTLP/HTTP JSON collector, e.g. http://127.0.0.1:4318/v1/traces (`--otlp-endpoint`).', { minLength: 1 }),
      zipkin: str('Zipkin v2 collector, e.g. http://127.0.0.1:9411/api/v2/spans (`--zipkin`).', { minLength: 1 }),
    }),
    trustDomain: str("Istio's MeshConfig trustDomain: the trust domain of every workload identity, spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount> (default `cluster.local`).", { minLength: 1, pattern: '^[A-Za-z0-9._-]+$' }),
    trustDomainAliases: strings(
      "Istio's MeshConfig trustDomainAliases: other trust domains AuthorizationPolicy principals of this mesh may name (`old-td/ns/default/sa/caller` then also matches the caller of this trust domain).",
      str('A trust domain.', { minLength: 1, pattern: '^[A-Za-z0-9.*_-]+$' }),
    ),
    outboundTrafficPolicy: obj('OutboundTrafficPolicy', "Istio's MeshConfig outboundTrafficPolicy: what sidecars do with requests to hosts that are neither mesh services nor ServiceEntry hosts.", {
      mode: oneOfValues(['ALLOW_ANY', 'REGISTRY_ONLY'], 'ALLOW_ANY (default): they pass to the address asked for (PassthroughCluster); REGISTRY_ONLY: they get 502 (BlackHoleCluster).'),
    }),
    dataPlane: obj('DataPlane', 'The data plane: the worker threads that run every sidecar and the ingress gateway (README "Performance"). Read when the sandbox starts.', {
      workers: int('Worker threads, 1 to 4; each runs whole proxies (default: one per CPU core, at most 4; `--data-plane-workers`).', 1, 4),
    }),
    services: { ...map(service, 'The services, by name (DNS-1123 label, e.g. `callme-service`).', fmt('dns1123-label', 'Service name.')), minProperties: 1 },
    kubernetes: strings('Kubernetes manifests (files, folders, kustomize folders), relative to meshbox.yaml: their Deployments, StatefulSets and Services become services of the mesh, their Istio kinds rules.', str('Manifest file or folder.', { minLength: 1 }), { minItems: 1 }),
    images: map(
      obj('ImageCommand', 'How the process runtime starts an image of the manifests.', {
        command,
        cwd: str('Working directory, relative to meshbox.yaml (default: its folder).', { minLength: 1 }),
        health: str('HTTP path probed when the manifest has no readinessProbe (default `/`).', { pattern: '^/' }),
        watch: { ...watch, description: '`meshbox dev`: rebuild (run `build` in `cwd`) and roll the services of this image when files matching `paths` change.' },
      }),
      'Process runtime: the command of each image of the `kubernetes:` manifests, by image name (`piomin/callme-service`, with or without tag).',
    ),
  },
  // `services` is required unless the services come from Kubernetes manifests (`kubernetes:`, or `images:` beside `meshbox up -f`)
  { rules: [{ if: { not: atLeastOneOf('kubernetes', 'images') }, then: { required: ['services'] } }] },
);

/** A standalone JSON Schema file for editors (`meshbox.schema.json`). */
export function meshFileJsonSchema(): JsonSchema {
  return { $schema: 'http://json-schema.org/draft-07/schema#', $id: 'urn:meshbox:schema:meshbox-yaml', ...hoistSharedSchemas(meshFileSchema) };
}

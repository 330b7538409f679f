/**
 * The mesh definition (`meshbox.yaml`): which services run, at which versions, how many
 * replicas, and how to start them. The Istio rules live beside it in a rules folder.
 *
 * Every path in a MeshDefinition is absolute (resolved against the meshbox.yaml folder by the
 * loader), so the rest of meshbox never guesses a base directory.
 */
import type { SourceLocation } from './findings.js';
import type { SelectedProtocol } from './protocol-selection.js';

export interface HealthCheckSpec {
  /** HTTP path probed on the instance's own port; 2xx/3xx means healthy */
  path: string;
  /** milliseconds between probes once the instance is up */
  intervalMs: number;
  /** milliseconds before one probe counts as failed */
  timeoutMs: number;
  /** consecutive failures before a healthy instance is marked unhealthy */
  unhealthyThreshold: number;
  /**
   * how to probe (default `http`: GET `path`): `tcp` opens a connection to the instance's port,
   * `exec` runs `command` in the workload's cwd (process runtime), exit 0 is healthy; from a
   * Kubernetes probe's tcpSocket / exec
   */
  kind?: 'http' | 'tcp' | 'exec';
  /** argv of an `exec` probe */
  command?: string[];
}

export interface BuildSpec {
  /** absolute path of the Docker build context */
  context: string;
  /** Dockerfile path relative to the context */
  dockerfile: string;
  args: Record<string, string>;
}

/** A service at one version: one Deployment in Kubernetes terms. */
export interface WorkloadSpec {
  service: string;
  version: string;
  /** workload name as Istio reports it (`<service>-<version>` unless set) */
  workload: string;
  replicas: number;
  /** argv to start one instance (process runtime; in Docker, the container command if set) */
  command?: string[];
  /** absolute working directory for the command */
  cwd: string;
  image?: string;
  build?: BuildSpec;
  /**
   * From a Kubernetes manifest: the container's `command` (it replaces the image's ENTRYPOINT) and
   * `args` (its CMD), as Kubernetes runs them (neither: the image's own). The Docker runtime uses them in place of `command`;
   * `meshbox export --k8s` writes them back unchanged.
   */
  container?: { command?: string[]; args?: string[] };
  /** user env, merged service-level then version-level */
  env: Record<string, string>;
  /** pod labels; always contains `app` and `version` */
  labels: Record<string, string>;
  health: HealthCheckSpec;
  /** milliseconds an instance may take to become healthy */
  startTimeoutMs: number;
  /**
   * Kubernetes service account: the identity `spiffe://cluster.local/ns/<ns>/sa/<sa>` (default: the
   * service name; from manifests read with `-f`, their `serviceAccountName`, else `default` as in Kubernetes)
   */
  serviceAccount?: string;
}

/**
 * Hot reload of a service's own code (`watch:` in meshbox.yaml): when a file matching `paths`
 * (and no `ignore` pattern) changes, meshbox runs `build` (action `rebuild`) and restarts only
 * this service's instances, rolling when a workload has two or more replicas.
 */
export interface WatchSpec {
  /** absolute paths or glob patterns (`**`, `*`, `?`, `{a,b}`, `[a-z]`); a folder means everything under it */
  paths: string[];
  /** absolute glob patterns of paths whose changes are ignored */
  ignore: string[];
  action: 'restart' | 'rebuild';
  /** argv of the build command, run in `cwd` before restarting (action `rebuild` only) */
  build?: string[];
  /** absolute folder the build runs in: the service's `cwd` */
  cwd: string;
}

/**
 * One port of a service, as a Kubernetes Service port declares it. Istio's protocol selection
 * (./protocol-selection.ts) decides what it is served as: `appProtocol`, else the name's prefix
 * (`grpc-api`, `tcp-db`), else detected per connection (HTTP/1.x, HTTP/2 preface, else TCP).
 */
export interface ServicePortSpec {
  /** the port's name (`grpc-api`); absent for meshbox.yaml's single `port:` (an unnamed port) */
  name?: string;
  /** the Service port clients address (`callme-service:9090`) */
  port: number;
  /**
   * the container port the Service sends to (Kubernetes `targetPort`): informational, the app
   * listens where meshbox tells it (`PORT`, `PORT_<NAME>`)
   */
  targetPort?: number;
  appProtocol?: string;
  /** Istio's protocol selection for this port */
  protocol: SelectedProtocol;
  /** what decided it, for explain(): `port name grpc-api`, `unnamed port: detected per connection ...` */
  protocolSource: string;
}

export interface ServiceSpec {
  name: string;
  /** the Service port apps use to address it (`callme-service:8080`): the first of `ports` */
  port: number;
  /** the first port's protocol (see `ports`); `unknown`: detected per connection */
  protocol: SelectedProtocol;
  /**
   * every Service port, the first one `port`; absent: one port, `port`, served as `protocol`
   * (read it with `portsOf`, ./service-ports.ts)
   */
  ports?: ServicePortSpec[];
  workloads: WorkloadSpec[];
  /** restart (or rebuild) on source changes; absent: the service's code is not watched */
  watch?: WatchSpec;
  /** where the service is defined, for findings */
  location?: SourceLocation;
}

export interface IngressSpec {
  /** address the ingress gateway listens on for Gateway servers of port 80 */
  host: string;
  port: number;
  /** workload labels of the gateway proxy, matched by Gateway.spec.selector */
  labels: Record<string, string>;
  /** Istio's gatewayTopology: proxies in front of the gateway whose X-Forwarded-For is trusted */
  gatewayTopology?: { numTrustedProxies: number };
}

export interface MeshDefinition {
  /** absolute path of meshbox.yaml */
  file: string;
  name: string;
  namespace: string;
  /** absolute path of the rules folder (may be absent on disk: then no rules) */
  rulesDir?: string;
  ingress: IngressSpec;
  services: ServiceSpec[];
  /**
   * Rule files beyond `rulesDir`: the Kubernetes manifests a mesh was read from (`meshbox up -f`,
   * meshbox.yaml `kubernetes:`), whose Istio kinds are applied as rules.
   */
  ruleFiles?: string[];
  /** meshbox.yaml `kubernetes:` and `images:` (absolute paths): read by sandbox/kubernetes */
  kubernetes?: KubernetesSourceSpec;
  /** meshbox.yaml `tracing:` (sampling percentage, collectors); the command line overrides it */
  tracing?: { sampling?: number; otlpEndpoint?: string; zipkin?: string };
  /** meshbox.yaml `trustDomain:` (Istio MeshConfig); absent: cluster.local */
  trustDomain?: string;
  /** meshbox.yaml `trustDomainAliases:` (Istio MeshConfig): trust domains policy principals may name for this one */
  trustDomainAliases?: string[];
  /** meshbox.yaml `outboundTrafficPolicy:` (Istio MeshConfig); absent: ALLOW_ANY */
  outboundTrafficPolicy?: { mode: 'ALLOW_ANY' | 'REGISTRY_ONLY' };
  /** meshbox.yaml `dataPlane:` (worker threads); `--data-plane-workers` overrides it; read at start */
  dataPlane?: { workers?: number };
}

/** How to start an image of a Kubernetes manifest with the process runtime (meshbox.yaml `images:`). */
export interface ImageCommandSpec {
  command?: string[];
  /** absolute working directory of the command */
  cwd: string;
  health?: string;
  /** `meshbox dev`: rebuild and roll the services of this image on changes */
  watch?: WatchSpec;
}

export interface KubernetesSourceSpec {
  /** absolute manifest files or folders (a folder with kustomization.yaml is expanded) */
  paths: string[];
  /** by image name (with or without tag) */
  images: Record<string, ImageCommandSpec>;
}

export const DEFAULT_HEALTH: Omit<HealthCheckSpec, 'path'> = {
  intervalMs: 2000,
  timeoutMs: 1000,
  unhealthyThreshold: 3,
};

export const DEFAULT_INGRESS: IngressSpec = {
  host: '127.0.0.1',
  port: 8080,
  labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' },
};

export const DEFAULT_START_TIMEOUT_MS = 30_000;

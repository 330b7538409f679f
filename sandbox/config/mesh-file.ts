/**
 * meshbox.yaml: the mesh definition. Which services run, at which versions, how many replicas,
 * and how to start them; the Istio rules live beside it in a rules folder.
 *
 * ```yaml
 * name: sample               # optional, default: the name of the folder holding meshbox.yaml
 * namespace: default         # optional, default `default`; short hosts in rules expand with it
 * rules: ./rules             # optional, default ./rules; relative to this file
 * ingress:                   # optional: where the ingress gateway listens
 *   host: 127.0.0.1          #   default 127.0.0.1
 *   port: 8080               #   default 8080 (serves Gateway servers of port 80)
 *   labels: { istio: ingressgateway }   # default; matched by Gateway `selector` (and by
 *                            #   security policies in istio-system that select the gateway)
 *   gatewayTopology:         #   optional: Istio's ProxyConfig gatewayTopology
 *     numTrustedProxies: 1   #   proxies in front whose X-Forwarded-For is trusted (default 0)
 * tracing:                   # optional: spans (README "Tracing"); the command line overrides each
 *   sampling: 100            #   percentage of new traces recorded (default 100; --trace-sampling)
 *   otlpEndpoint: http://127.0.0.1:4318/v1/traces   # OTLP/HTTP JSON collector (--otlp-endpoint)
 *   zipkin: http://127.0.0.1:9411/api/v2/spans      # Zipkin v2 collector (--zipkin)
 * trustDomain: cluster.local # optional: Istio's MeshConfig trustDomain (workload identities are
 *                            #   spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>)
 * trustDomainAliases: [old]  # optional: trust domains AuthorizationPolicy principals may name instead
 * outboundTrafficPolicy:     # optional: Istio's MeshConfig outboundTrafficPolicy
 *   mode: ALLOW_ANY          #   ALLOW_ANY (default: unknown hosts pass, PassthroughCluster) or
 *                            #   REGISTRY_ONLY (they get 502, BlackHoleCluster)
 * dataPlane:                 # optional: the worker threads running every proxy (README "Performance")
 *   workers: 2               #   1-4, default one per CPU core, at most 4 (--data-plane-workers);
 *                            #   read when the sandbox starts
 * services:
 *   callme-service:          # the service name, a DNS-1123 label (lowercase, digits, `-`)
 *     port: 8080             # the Service port apps address (callme-service:8080): one unnamed
 *                            #   port, its protocol detected per connection (HTTP served as HTTP)
 *     ports:                 # or instead several, as a Kubernetes Service (exactly one of the two):
 *     - {name: grpc-api, port: 9090, targetPort: 50051, appProtocol: grpc}
 *                            #   protocol: appProtocol, else the name's prefix (http, http2, grpc,
 *                            #   grpc-web, tcp, tls, https, mongo, mysql, redis), else detected;
 *                            #   the app listens on PORT (the first) and PORT_<NAME> (PORT_GRPC_API)
 *     command: node main.js  # a shell command line (run with /bin/sh -c) or an argv list
 *                            #   [node, main.js]; required unless image or build is given
 *     cwd: ./callme          # optional, relative to meshbox.yaml, default its folder
 *     image: name:tag        # optional: image for the Docker runtime
 *     build: ./callme        # optional: Docker build context, or {context, dockerfile, args}
 *     env: { KEY: value }    # strings, numbers or booleans (converted to strings)
 *     labels: { team: x }    # optional extra pod labels; `app` and `version` are set by meshbox
 *     health: /actuator/health   # a path, or {path, interval: 2s, timeout: 1s,
 *                                #   unhealthyThreshold: 3}; default path `/` (a first port served
 *                                #   as TCP: a TCP connect to it instead)
 *     startTimeout: 30s      # how long an instance may take to become healthy (default 30s)
 *     replicas: 1            # 0-50, default 1: instances of each version without its own
 *     watch:                 # optional: hot reload of the service's own code (see below)
 *       paths: [callme]      # files, folders (all below them) or globs with *, **, ?, {a,b},
 *                            #   relative to this file; e.g. 'callme/*.ts'
 *       ignore: ['*.test.ts'] # globs; one without `/` matches a file or folder name anywhere
 *       action: rebuild      # rebuild (run `build`, then restart) or restart; default: rebuild
 *                            #   when `build` is set, else restart
 *       build: npm run build # shell command line or argv list, run in the service's cwd with
 *                            #   node_modules/.bin (of it and the folders above) on PATH, as
 *                            #   in an npm script
 *     versions:              # optional; default one version `v1`
 *       v1: { replicas: 1, env: { VERSION: v1 } }
 *       v2: { replicas: 2, env: { VERSION: v2 } }
 * ```
 *
 * A version overrides `command`, `cwd`, `image`, `build`, `health`, `startTimeout`, `replicas`
 * (and `workload`, its workload name, default `<service>-<version>`) and merges `env` and
 * `labels` over the service's. Every workload carries the labels `app: <service>` and
 * `version: <version>`. All paths in the resulting MeshDefinition are absolute.
 *
 * `watch` (service level, applies to all its versions): while `meshbox up` runs, a change to a
 * matching file (editor temp files, `node_modules` and `.git` are always ignored) runs `build`
 * once and then restarts only this service's instances. A workload with two or more replicas is
 * restarted rolling, one instance at a time: a new instance becomes healthy before an old one is
 * drained and stopped, so no request fails. A workload with one replica is restarted in place and
 * requests for it wait (up to 10 s; the wait is not counted in their route timeout) until it is
 * healthy again instead of failing. A failed build restarts nothing: the running instances keep
 * serving. Changes arriving during a build or restart are coalesced into one more round. The
 * paths the build writes must not be watched (put them in `ignore`), or every build triggers the
 * next one (meshbox stops watching after three such rounds and says so).
 */
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Finding } from './findings.js';
import { hasErrors } from './findings.js';
import { makeFinding } from './codes.js';
import type { MeshDefinition } from './mesh-types.js';
import { parseYaml } from './yaml-source.js';
import type { YamlDocument } from './yaml-source.js';
import { meshFileSchema } from './schemas/mesh-file.js';
import { validateAgainst } from './schema-validator.js';
import { schemaErrorsToFindings } from './schema-findings.js';
import { buildMesh } from './mesh-builder.js';
import type { MeshFileValue } from './mesh-builder.js';
import { isObj } from './checks/guards.js';

export interface MeshLoadResult {
  mesh?: MeshDefinition;
  findings: Finding[];
}

/** True for a document that is a mesh definition: a mapping with `services:` and no `apiVersion`. */
export function looksLikeMeshDocument(value: unknown): boolean {
  return isObj(value) && !('apiVersion' in value) && 'services' in value;
}

/** Reads and validates a meshbox.yaml; a missing file is an MB3001 finding. */
export async function loadMeshFile(path: string): Promise<MeshLoadResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = typeof err === 'object' && err !== null && 'code' in err ? (err as { code: unknown }).code : undefined;
    if (code === 'ENOENT') {
      return { findings: [makeFinding('MESH_NOT_FOUND', `${path} does not exist`, { hint: 'create a meshbox.yaml (see `meshbox validate` on the sample) or give the path of one with --config' })] };
    }
    return { findings: [makeFinding('MESH_UNREADABLE', `${path} cannot be read: ${err instanceof Error ? err.message : String(err)}`, { hint: 'check the path and its permissions' })] };
  }
  return parseMeshText(text, path);
}

/** Validates meshbox.yaml text (pure; paths resolve against the folder of `file`). */
export function parseMeshText(text: string, file: string): MeshLoadResult {
  const parsed = parseYaml(text, file);
  const findings = [...parsed.findings];
  if (hasErrors(findings)) return { findings };
  if (parsed.documents.length !== 1) {
    const where = parsed.documents[1]?.start ?? { file, line: 1, col: 1 };
    findings.push(
      makeFinding('MESH_UNREADABLE', parsed.documents.length === 0 ? `${file} is empty` : `${file} holds ${parsed.documents.length} documents; a mesh definition is one`, {
        hint: 'write one mapping with `services:` (see the format in the README)',
        location: where,
      }),
    );
    return { findings };
  }
  return parseMeshDocument(parsed.documents[0]!, file);
}

/** Validates one parsed meshbox.yaml document and builds the MeshDefinition. */
export function parseMeshDocument(doc: YamlDocument, file: string): MeshLoadResult {
  const value = doc.value;
  if (!isObj(value)) {
    return { findings: [makeFinding('MESH_UNREADABLE', `${file} is not a mapping`, { hint: 'write `key: value` lines, starting with `services:`', location: doc.start })] };
  }
  const findings = schemaErrorsToFindings(validateAgainst(meshFileSchema, value), value, doc);
  if (hasErrors(findings)) return { findings };
  const built = buildMesh(value as unknown as MeshFileValue, file, doc);
  findings.push(...built.findings);
  return hasErrors(findings) || !built.mesh ? { findings } : { mesh: built.mesh, findings };
}

/** The names a project's mesh definition may have, in the order they are looked for. */
export const MESH_FILE_NAMES = ['meshbox.yaml', 'meshbox.yml'] as const;

/**
 * The meshbox.yaml of the project in `dir` (default: the current folder), as `meshbox up` and
 * `meshbox validate` without `--config` find it; undefined when there is none.
 */
export function findProjectMeshFile(dir: string = process.cwd()): string | undefined {
  for (const name of MESH_FILE_NAMES) {
    const candidate = join(dir, name);
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not there: try the next name
    }
  }
  return undefined;
}

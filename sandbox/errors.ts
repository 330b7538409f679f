/**
 * One error catalog for meshbox (fastify/undici style): every error a user can meet has a
 * stable code (`MESH_ERR_*`), a message and a hint saying what to do about it.
 *
 * Deliberate aborts (an injected connection reset, a fault filter abort) are control flow and do
 * not use this class: see `ControlledAbort`.
 */
import type { Finding } from './config/findings.js';

const kMeshError = Symbol.for('meshbox.error');

export type MeshErrorCode = keyof typeof catalog;

interface CatalogEntry {
  message: (...args: string[]) => string;
  hint: (...args: string[]) => string;
  /** exit code used by the CLI when this error ends a command */
  exitCode: number;
}

const catalog = {
  MESH_ERR_CONFIG_INVALID: {
    message: (file) => `configuration in ${file} is invalid`,
    hint: () => 'fix the findings listed above and run the command again (`meshbox validate` shows them)',
    exitCode: 1,
  },
  MESH_ERR_CONFIG_NOT_FOUND: {
    message: (file) => `configuration file ${file} does not exist`,
    hint: () => 'pass --config with the path of a meshbox.yaml, or run `meshbox up` without --config for the sample mesh',
    exitCode: 1,
  },
  MESH_ERR_TRACE_ENDPOINT: {
    message: (flag, url, why) => `${flag} ${url} is not a collector URL: ${why}`,
    hint: (flag) => `give an http:// or https:// URL, e.g. ${flag === '--zipkin' ? '--zipkin http://127.0.0.1:9411/api/v2/spans' : '--otlp-endpoint http://127.0.0.1:4318/v1/traces'}`,
    exitCode: 1,
  },
  MESH_ERR_TRACE_EXPORT: {
    message: (name, url, why) => `trace export to ${name} (${url}) failed: ${why}`,
    hint: () => 'is the collector running and listening there? Traffic is not slowed: spans wait in a bounded queue and are dropped (counted on GET /traces/stats) when it is full',
    exitCode: 1,
  },
  MESH_ERR_RULES_NOT_FOUND: {
    message: (dir) => `rules folder ${dir} does not exist`,
    hint: () => 'create it, pass --rules with an existing folder, or remove `rules:` from meshbox.yaml',
    exitCode: 1,
  },
  MESH_ERR_PORT_IN_USE: {
    message: (what, addr) => `${what} cannot listen on ${addr}: the port is already in use`,
    hint: (_what, addr, flag) => `stop whatever listens on ${addr} (\`ss -ltnp\` shows it) or choose another port with ${flag}`,
    exitCode: 2,
  },
  MESH_ERR_LISTEN: {
    message: (what, addr, reason) => `${what} cannot listen on ${addr}: ${reason}`,
    hint: () => 'check that the address is a loopback address this machine has and that you may bind it',
    exitCode: 2,
  },
  MESH_ERR_RUNTIME_UNAVAILABLE: {
    message: (runtime, reason) => `the ${runtime} runtime is not available: ${reason}`,
    hint: () => 'use --runtime process, or start the Docker daemon and try again',
    exitCode: 3,
  },
  MESH_ERR_DOCKER_UNAVAILABLE: {
    message: (endpoint, reason) => `no Docker daemon answers at ${endpoint} (${reason})`,
    hint: () =>
      'start Docker (`sudo systemctl start docker`, or `sudo dockerd &`; Docker Desktop: open the app), point DOCKER_HOST at the daemon, or run the workloads as processes with --runtime process',
    exitCode: 3,
  },
  MESH_ERR_DOCKER_PERMISSION: {
    message: (endpoint) => `permission denied on the Docker socket ${endpoint}`,
    hint: () =>
      'add yourself to the docker group (`sudo usermod -aG docker $USER`, then log in again), use rootless Docker with DOCKER_HOST set to its socket, or run the workloads as processes with --runtime process',
    exitCode: 3,
  },
  MESH_ERR_DOCKER: {
    message: (action, reason) => `Docker could not ${action}: ${reason}`,
    hint: () => "check the Docker daemon's log (`journalctl -u docker`, or the file dockerd writes to) and `docker info`",
    exitCode: 3,
  },
  MESH_ERR_IMAGE_MISSING: {
    message: (image) => `image ${image} is not present locally and pulls are off`,
    hint: (image) => `pull it yourself (\`docker pull ${image}\`) or build it, or run \`meshbox up --pull\` to let meshbox pull missing images`,
    exitCode: 5,
  },
  MESH_ERR_IMAGE_BUILD: {
    message: (image, step, reason) => `building image ${image} failed at ${step}: ${reason}`,
    hint: (_image, _step, _reason, context) =>
      `fix that step (the build output is above); \`docker build ${context ?? '<context>'}\` reproduces it`,
    exitCode: 5,
  },
  MESH_ERR_WORKLOAD_START: {
    message: (instance, reason) => `workload ${instance} could not start: ${reason}`,
    hint: () => "check the service's command and working directory in meshbox.yaml; its log lines are shown above",
    exitCode: 4,
  },
  MESH_ERR_NOT_READY: {
    message: (what, seconds) => `${what} did not become healthy within ${seconds}s`,
    hint: () => 'check the health path in meshbox.yaml and the log lines of the workloads that stayed unhealthy',
    exitCode: 4,
  },
  MESH_ERR_FD_EXHAUSTED: {
    message: (code) =>
      `meshbox ran out of file descriptors (${code}) and could not open a socket to health-check the app; this says nothing about the app, whose last health state is kept`,
    hint: () =>
      'raise the limit (`ulimit -n 65536` before `meshbox up`), and look for clients holding many connections open (`ss -tnp`); meshbox closes slow clients after request_headers_timeout and idle ones after idle_timeout',
    // sysexits EX_OSERR: an operating system limit, not a usage or configuration error
    exitCode: 71,
  },
  MESH_ERR_ADMIN_UNREACHABLE: {
    message: (url, reason) => `no meshbox sandbox answers at ${url} (${reason})`,
    hint: () => 'start one with `meshbox up`, or pass --admin with the admin address of a running sandbox',
    exitCode: 1,
  },
  MESH_ERR_STATE_DIR: {
    message: (dir, reason) => `the state folder ${dir} cannot be used: ${reason}`,
    hint: () => 'point MESHBOX_STATE_DIR (or XDG_STATE_HOME) at a folder of your own',
    exitCode: 1,
  },
  MESH_ERR_ADMIN_HOST: {
    message: (host) => `Host ${host} is not a loopback address: the admin API answers only on loopback`,
    hint: (_host, here) => `send the request to ${here} (or localhost); a web page whose name points at 127.0.0.1 (DNS rebinding) is refused`,
    exitCode: 1,
  },
  MESH_ERR_ADMIN_ORIGIN: {
    message: (who) => `the admin API refuses requests from web pages: ${who}`,
    hint: () => 'call it from the meshbox CLI, curl or a script (they send no Origin header); no web page may drive a sandbox',
    exitCode: 1,
  },
  MESH_ERR_ADMIN_TOKEN_MISSING: {
    message: (what) => `${what} changes the sandbox and needs its admin token`,
    hint: (_what, file) => `send the header \`Authorization: Bearer <token>\` with the token in ${file}, e.g. curl -H "Authorization: Bearer $(cat ${file})" ...; the meshbox CLI reads it itself`,
    exitCode: 1,
  },
  MESH_ERR_ADMIN_TOKEN_INVALID: {
    message: () => "the admin token sent is not this sandbox's",
    hint: (file) => `every \`meshbox up\` makes a new token: send \`Authorization: Bearer <token>\` with the one in ${file}`,
    exitCode: 1,
  },
  MESH_ERR_ADMIN_CONTENT_TYPE: {
    message: (type) => `the admin API takes JSON bodies only, not Content-Type ${type}`,
    hint: () => 'send the body with `Content-Type: application/json`',
    exitCode: 1,
  },
  MESH_ERR_ADMIN_BODY_TOO_LARGE: {
    message: (limit) => `request body larger than ${limit} bytes`,
    hint: () => 'a fault or a workload action is a small JSON object; send one at a time',
    exitCode: 1,
  },
  MESH_ERR_NOT_FOUND: {
    message: (kind, name) => `${kind} "${name}" not found`,
    hint: (kind) => `\`meshbox get ${kind}\` lists them`,
    exitCode: 1,
  },
  MESH_ERR_NO_MATCH: {
    message: (what) => `no ${what} matched`,
    hint: () => 'check the selector or filter against `meshbox get`',
    exitCode: 1,
  },
  MESH_ERR_USAGE: {
    message: (text) => text,
    hint: () => 'run the command with --help to see its options',
    exitCode: 64,
  },
  MESH_ERR_INTERNAL: {
    message: (text) => `internal error: ${text}`,
    hint: () => 'this is a bug in meshbox; please report it with the command you ran and the output above',
    exitCode: 70,
  },
} satisfies Record<string, CatalogEntry>;

export class MeshError extends Error {
  readonly code: MeshErrorCode;
  readonly hint: string;
  readonly exitCode: number;
  /** validation findings behind a configuration error, printed before the message */
  readonly findings: Finding[];

  constructor(code: MeshErrorCode, args: string[] = [], options: { hint?: string; cause?: unknown; findings?: Finding[] } = {}) {
    const entry: CatalogEntry = catalog[code];
    super(entry.message(...args), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MeshError';
    this.code = code;
    this.hint = options.hint ?? entry.hint(...args);
    this.exitCode = entry.exitCode;
    this.findings = options.findings ?? [];
    Object.defineProperty(this, kMeshError, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kMeshError] === true;
  }
}

/** All codes, for docs and the catalog meta-test. */
export const meshErrorCodes = Object.keys(catalog) as MeshErrorCode[];

/**
 * A deliberate abort (injected reset, closed connection): the pipeline destroys the socket
 * quietly instead of logging a failure (mockttp's AbortError).
 */
export class ControlledAbort extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'ControlledAbort';
  }
}

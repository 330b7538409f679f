#!/usr/bin/env node
/**
 * meshbox: argv -> command modules. No mesh logic here.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { packageVersion } from '../sandbox/paths.js';
import { printError, stdio } from './output.js';
import { runUp } from './commands/up.js';
import { runExport } from './commands/export.js';
import { runDev } from './commands/dev.js';
import { runValidate } from './commands/validate.js';
import { runStatus } from './commands/status.js';
import { runCerts } from './commands/certs.js';
import { runApply } from './commands/apply.js';
import { runDown } from './commands/down.js';
import { runFaultList, runFaultRemove, type FaultAddOptions } from './commands/fault.js';
import { runWorkloadList } from './commands/workload.js';
import { runSchema, SCHEMA_NAMES } from './commands/schema.js';
import { WORKLOAD_ACTIONS } from '../sandbox/admin/chaos-routes.js';
import { registerScenarioCommand } from './commands/scenario.js';
import { MAX_DATA_PLANE_WORKERS } from '../sandbox/proxy/data-plane.js';
import { runToken } from './commands/token.js';
import { registerPrometheusConfigCommand } from './commands/prometheus-config.js';
import { registerObserveCommands } from './observe-commands.js';
import { runFaultAddSelected, runWorkloadActionSelected } from './commands/label-selector.js';
import { jsonOrYaml } from './output-format.js';

/** runs a command that prints JSON with `json: true` under -o json|yaml */
function withOutput<O extends { json?: boolean; output?: string }>(o: O, fn: (o: O, io: typeof stdio) => Promise<number>): Promise<number> {
  const w = jsonOrYaml(o, stdio);
  return fn(w.options, w.io).then((code) => {
    w.flush();
    return code;
  });
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

function number(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('must be a number');
  return n;
}

/** `--data-plane-workers N`: 1 to MAX_DATA_PLANE_WORKERS */
function dataPlaneWorkers(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_DATA_PLANE_WORKERS) throw new InvalidArgumentError(`must be a whole number from 1 to ${MAX_DATA_PLANE_WORKERS}`);
  return n;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `--gateway-port 31400=41400` (repeatable): a Gateway server port and the local port that serves it */
function gatewayPort(value: string, previous: Record<number, number> = {}): Record<number, number> {
  const m = /^(\d+)=(\d+)$/.exec(value.trim());
  const from = Number(m?.[1]);
  const to = Number(m?.[2]);
  if (!m || from < 1 || from > 65535 || to < 0 || to > 65535) throw new InvalidArgumentError('must be <gateway server port>=<local port>, e.g. 31400=41400 (0: a free port)');
  return { ...previous, [from]: to };
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number of seconds');
  return Math.round(n * 1000);
}

async function run(action: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await action();
  } catch (e) {
    process.exitCode = printError(stdio, e);
  }
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('meshbox')
    .description('An Istio-style service mesh on one laptop: sidecars, real Istio YAML, faults, metrics and chaos in seconds.')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('up')
    .description('start a sandbox: the services of --config, else of ./meshbox.yaml, else the bundled caller/callme sample')
    .option('-c, --config <file>', 'meshbox.yaml to run (default: ./meshbox.yaml, else the bundled sample mesh)')
    .option('-f, --file <path>', 'Kubernetes manifests (file, folder or kustomize folder; repeatable) to run instead of meshbox.yaml', collect)
    .option('-r, --rules <dir>', 'folder of Istio YAML (default: the `rules` folder of meshbox.yaml)')
    .addOption(new Option('--runtime <runtime>', 'where workloads run').choices(['auto', 'process', 'docker']).default('auto'))
    .option('--pull', 'Docker: pull images that are not present locally (default: never pull)')
    .addOption(new Option('--docker-network <mode>', 'Docker: host networking (Linux default) or bridge with ports on 127.0.0.1 (Docker Desktop)').choices(['auto', 'host', 'bridge']).default('auto'))
    .option('--headless', 'plain output lines instead of the terminal UI', false)
    .option('--ingress-port <port>', 'port of the ingress gateway on 127.0.0.1 (default: 8080)', port)
    .option('--gateway-port <server=local>', 'serve a Gateway server port on another local port, e.g. 31400=41400 (repeatable; default: the same number when free, else a free one)', gatewayPort)
    .option('--admin-port <port>', 'port of the admin API on 127.0.0.1 (default: 15000)', port)
    .option('--seed <n>', 'seed for every random choice (weights, faults, back-off), to replay a run', integer)
    .option('--access-log <dir>', 'folder for the per-proxy Istio access logs (default: in the state folder)')
    .option('--no-access-log', 'do not write access logs')
    .option('--no-logs', 'do not print the workloads’ own output')
    .option('--no-watch', 'do not hot-reload the rules folder, meshbox.yaml or service code')
    .option('--ready-timeout <seconds>', 'how long to wait for every workload to be healthy', seconds)
    .option('--toxiproxy-port <port>', "port of the Toxiproxy-compatible API on 127.0.0.1 (default: 8474)", port)
    .option('--no-toxiproxy-api', 'do not serve the Toxiproxy-compatible API')
    .option('--trace-sampling <percent>', 'percentage of new traces recorded, 0-100 (default 100; Telemetry resources refine it)')
    .option('--otlp-endpoint <url>', 'send spans to an OTLP/HTTP collector (JSON), e.g. http://127.0.0.1:4318/v1/traces')
    .option('--zipkin <url>', 'send spans to a Zipkin collector (v2 JSON), e.g. http://127.0.0.1:9411/api/v2/spans')
    .option('--no-tracing', 'no spans, no trace headers written by the proxies')
    .option('--data-plane-workers <n>', `worker threads running the proxies, 1-${MAX_DATA_PLANE_WORKERS} (default: meshbox.yaml dataPlane.workers, else one per CPU core, at most ${MAX_DATA_PLANE_WORKERS})`, dataPlaneWorkers)
    .action((o: { dataPlaneWorkers?: number; file?: string[]; traceSampling?: string; otlpEndpoint?: string; zipkin?: string; tracing: boolean; toxiproxyPort?: number; toxiproxyApi: boolean; config?: string; rules?: string; runtime: 'auto' | 'process' | 'docker'; pull?: boolean; dockerNetwork: 'auto' | 'host' | 'bridge'; headless: boolean; ingressPort?: number; gatewayPort?: Record<number, number>; adminPort?: number; seed?: number; accessLog?: string | boolean; logs: boolean; watch: boolean; readyTimeout?: number }) =>
      run(() =>
        runUp(
          {
            gatewayPorts: o.gatewayPort,
            config: o.config,
            files: o.file,
            rules: o.rules,
            runtime: o.runtime,
            pull: o.pull,
            dockerNetwork: o.dockerNetwork,
            headless: o.headless,
            ingressPort: o.ingressPort,
            adminPort: o.adminPort,
            seed: o.seed,
            accessLog: o.accessLog === false ? false : typeof o.accessLog === 'string' ? o.accessLog : undefined,
            logs: o.logs,
            readyTimeout: o.readyTimeout,
            watch: o.watch,
            toxiproxyPort: o.toxiproxyPort,
            toxiproxyApi: o.toxiproxyApi,
            tracing: o.tracing === false ? false : { traceSampling: o.traceSampling, otlpEndpoint: o.otlpEndpoint, zipkin: o.zipkin },
            dataPlaneWorkers: o.dataPlaneWorkers,
          },
          stdio,
        ),
      ),
    );

  program
    .command('dev')
    .description('the `skaffold dev` loop on Kubernetes manifests: watch each image\'s build context, rebuild and roll only what changed (no failed request), hot-reload the rules, stream logs; --port-forward is the ingress, always on')
    .option('-c, --config <file>', 'meshbox.yaml (with `kubernetes:`, or the `images:` beside -f)')
    .option('-f, --file <path>', 'Kubernetes manifests (file, folder or kustomize folder; repeatable)', collect)
    .option('-r, --rules <dir>', 'folder of Istio YAML beside the manifests')
    .addOption(new Option('--runtime <runtime>', 'where workloads run').choices(['auto', 'process', 'docker']).default('auto'))
    .option('--headless', 'plain output lines instead of the terminal UI', false)
    .option('--ingress-port <port>', 'port of the ingress gateway on 127.0.0.1 (default: 8080)', port)
    .option('--admin-port <port>', 'port of the admin API on 127.0.0.1 (default: 15000)', port)
    .option('--seed <n>', 'seed for every random choice', integer)
    .option('--no-access-log', 'do not write access logs')
    .option('--no-logs', 'do not print the workloads’ own output')
    .option('--ready-timeout <seconds>', 'how long to wait for every workload to be healthy', seconds)
    .option('--toxiproxy-port <port>', 'port of the Toxiproxy-compatible API on 127.0.0.1 (default: 8474)', port)
    .option('--no-toxiproxy-api', 'do not serve the Toxiproxy-compatible API')
    .option('--port-forward', 'accepted for skaffold users: meshbox\'s ingress already forwards to the mesh')
    .action((o: { config?: string; file?: string[]; rules?: string; runtime: 'auto' | 'process' | 'docker'; headless: boolean; ingressPort?: number; adminPort?: number; seed?: number; accessLog: boolean; logs: boolean; readyTimeout?: number; toxiproxyPort?: number; toxiproxyApi: boolean }) =>
      run(() =>
        runDev(
          { config: o.config, files: o.file, rules: o.rules, runtime: o.runtime, headless: o.headless, ingressPort: o.ingressPort, adminPort: o.adminPort, seed: o.seed, accessLog: o.accessLog === false ? false : undefined, logs: o.logs, readyTimeout: o.readyTimeout, watch: true, toxiproxyPort: o.toxiproxyPort, toxiproxyApi: o.toxiproxyApi },
          stdio,
        ),
      ),
    );

  program
    .command('export')
    .description('write the mesh (meshbox.yaml and its rules, or -f manifests) as a Kubernetes + Istio project for `kubectl apply -k DIR`')
    .requiredOption('--k8s <dir>', 'folder to write the Kubernetes project to (created when missing)')
    .option('-c, --config <file>', 'meshbox.yaml to export (default: ./meshbox.yaml, else the bundled sample)')
    .option('-r, --rules <dir>', 'rules folder (default: the one meshbox.yaml names)')
    .option('-f, --file <path>', 'Kubernetes manifests to export instead of meshbox.yaml (repeatable)', collect)
    .action((o: { k8s: string; config?: string; rules?: string; file?: string[] }) => run(() => runExport(o, stdio)));

  program
    .command('validate')
    .description('validate meshbox.yaml and Istio rule files like the API server and `istioctl analyze` would; exits 1 on errors')
    .argument('[paths...]', 'files or folders, read with their subfolders (default: ./meshbox.yaml and its rules, else the sample mesh)')
    .option('-c, --config <file>', 'meshbox.yaml whose services the rules are checked against')
    .option('--json', 'print the findings as JSON', false)
    .option('-o, --output <format>', 'json | yaml')
    .addOption(new Option('--runtime <runtime>', 'check that this runtime can run every service (default: the one `up` would pick)').choices(['auto', 'process', 'docker']).default('auto'))
    .action((paths: string[], o: { config?: string; json: boolean; output?: string; runtime: 'auto' | 'process' | 'docker' }) => run(() => withOutput(o, (opts, io) => runValidate(paths, opts, io))));

  program
    .command('status')
    .description('show a running sandbox: instances, health, ports, rules version')
    .option('--admin <url>', 'admin API of the sandbox (default: the running one, else http://127.0.0.1:15000)')
    .option('--json', 'print the raw status as JSON (alias of -o json)', false)
    .option('-o, --output <format>', 'json | yaml')
    .action((o: { admin?: string; json: boolean; output?: string }) => run(() => runStatus(o, stdio)));

  program
    .command('certs')
    .description("show each proxy's workload certificate: SPIFFE identity, serial, validity, next rotation (like `istioctl proxy-config secret`)")
    .argument('[instance]', 'one proxy (instance id, e.g. callme-service-v2-1, or a workload name)')
    .option('--admin <url>', 'admin API of the sandbox (default: the running one, else http://127.0.0.1:15000)')
    .option('--pem', 'also print the certificate chain (PEM)', false)
    .option('--json', 'print the raw answer as JSON', false)
    .action((instance: string | undefined, o: { admin?: string; json: boolean; pem: boolean }) => run(() => runCerts(instance, o, stdio)));

  program
    .command('schema')
    .description('print the JSON Schema of a file meshbox reads, for editor completion')
    .argument('<kind>', SCHEMA_NAMES.join(' | '))
    .action((kind: string) => run(async () => runSchema(kind, stdio)));

  program
    .command('token')
    .description('print a JWT signed by the local issuer meshbox.local, to try RequestAuthentication and AuthorizationPolicy without an identity provider')
    .option('--sub <subject>', 'the subject (`sub`); the request principal is meshbox.local/<subject>')
    .option('--aud <audience>', 'an audience (`aud`); repeat for several', collect)
    .option('--claim <name=value>', 'an extra claim (value parsed as JSON when it is, e.g. roles=["a"]); repeat for several', collect)
    .option('--expires <duration>', 'lifetime, e.g. 30m, 24h; -1h mints an expired token (default 1h)')
    .option('--jwks', "print the issuer's public JWKS (for an inline `jwks:`) instead of a token", false)
    .action((o: { sub?: string; aud?: string[]; claim?: string[]; expires?: string; jwks: boolean }) => run(() => runToken(o, stdio)));

  program
    .command('apply')
    .description('validate a rule file (as `meshbox validate` does) and write it into the rules folder of the running sandbox, which applies it; exits 1 when invalid')
    .requiredOption('-f, --file <file>', 'Istio YAML file (VirtualService, DestinationRule, Gateway, ...)')
    .option('-r, --rules <dir>', 'rules folder to write to (default: the running sandbox’s)')
    .option('-c, --config <file>', 'meshbox.yaml whose rules folder to write to, and to check the rule against')
    .option('--admin <url>', 'admin API of the running sandbox (default: the running one, else http://127.0.0.1:15000)')
    .option('--dry-run', 'validate and show what would change, write nothing', false)
    .option('--no-wait', 'do not wait for the running sandbox to apply it')
    .action((o: { file: string; rules?: string; config?: string; admin?: string; dryRun: boolean; wait: boolean }) => run(() => runApply(o, stdio)));

  const fault = program.command('fault').description('runtime faults on a running sandbox (on top of the rule files)');
  fault
    .command('add')
    .description('inject a fault into a service (or one subset): HTTP faults at its inbound sidecar, or Toxiproxy toxics on connections to it')
    .argument('[service]', 'destination service, e.g. callme-service (or -l)')
    .option('-l, --selector <labels>', 'the instances to hit, by labels, e.g. app=callme-service,version=v2: one fault per service or version they make up')
    .option('--subset <name>', 'only this subset (DestinationRule subset or version)')
    .option('--source <workload>', 'only requests from this workload (e.g. caller-service-v1)')
    .option('--name <name>', 'name of the fault (default: generated)')
    .option('--abort <status>', 'answer this HTTP status instead of the app', integer)
    .option('--abort-body <text>', 'body of the abort (default: fault filter abort)')
    .option('--abort-header <k=v>', 'header on the abort (repeatable)', collect)
    .option('--delay <duration>', 'delay requests, e.g. 200ms')
    .addOption(new Option('--reset <phase>', 'reset the connection before the response or in the middle of it').choices(['request', 'response']))
    .option('--slow-body <bytesPerSecond>', 'trickle response bodies', integer)
    .option('--percent <n>', 'share of matching requests affected, 0-100 (default 100)', number)
    .option('--path <prefix>', 'only requests whose path starts with this')
    .option('--method <method>', 'only this method')
    .option('--header <k=v>', 'only requests with this header value (repeatable)', collect)
    .addOption(new Option('--toxic <type>', 'network toxic (Toxiproxy)').choices(['latency', 'bandwidth', 'slow_close', 'timeout', 'reset_peer', 'slicer', 'limit_data']))
    .addOption(new Option('--stream <stream>', 'toxic direction: upstream (requests) or downstream (answers, default)').choices(['upstream', 'downstream']))
    .option('--toxicity <p>', 'probability 0-1 that a connection gets the toxic (default 1)', number)
    .option('--attr <k=v>', 'toxic attribute, e.g. latency=100 (repeatable)', collect)
    .option('--ttl <duration>', 'remove the fault automatically after this long, e.g. 30s')
    .option('--admin <url>', 'admin API of the sandbox')
    .option('--json', 'print the fault as JSON', false)
    .option('-o, --output <format>', 'json | yaml')
    .action((service: string | undefined, o: FaultAddOptions & { selector?: string; output?: string }) => run(() => withOutput(o, (opts, io) => runFaultAddSelected(service, opts, io))));
  fault
    .command('ls')
    .description('list active faults')
    .option('--admin <url>', 'admin API of the sandbox')
    .option('--json', 'print JSON', false)
    .option('-o, --output <format>', 'json | yaml')
    .action((o: { admin?: string; json: boolean; output?: string }) => run(() => withOutput(o, runFaultList)));
  fault
    .command('rm')
    .description('remove runtime faults by name, or all of them')
    .argument('[names...]', 'fault names (see `meshbox fault ls`)')
    .option('--all', 'remove every runtime fault', false)
    .option('--admin <url>', 'admin API of the sandbox')
    .action((names: string[], o: { admin?: string; all: boolean }) => run(() => runFaultRemove(names, o, stdio)));

  const workload = program.command('workload').description('workload chaos on a running sandbox');
  for (const action of WORKLOAD_ACTIONS) {
    const cmd = workload
      .command(action)
      .description(
        {
          kill: 'send a signal (default SIGKILL); meshbox restarts the instance with back-off',
          stop: 'stop gracefully; it stays stopped until `start`',
          start: 'start a stopped instance',
          restart: 'stop then start',
          pause: 'freeze the instance (SIGSTOP / docker pause): connections hang',
          resume: 'thaw a paused instance',
          drain: 'take the endpoint out of the registry (it keeps running)',
          undrain: 'put a drained endpoint back',
        }[action],
      )
      .argument('[instance]', 'instance id, e.g. callme-service-v2-1 (see `meshbox workload ls`), or -l')
      .option('-l, --selector <labels>', 'every instance with these labels, e.g. app=callme-service,version=v2')
      .option('--admin <url>', 'admin API of the sandbox');
    if (action === 'kill') cmd.option('--signal <signal>', 'signal to send', 'SIGKILL');
    cmd.action((instance: string | undefined, o: { admin?: string; signal?: string; selector?: string }) => run(() => runWorkloadActionSelected(action, instance, o, stdio)));
  }
  workload
    .command('ls')
    .description('list instances')
    .option('--admin <url>', 'admin API of the sandbox')
    .option('--json', 'print JSON', false)
    .option('-o, --output <format>', 'json | yaml')
    .action((o: { admin?: string; json: boolean; output?: string }) => run(() => withOutput(o, runWorkloadList)));

  program
    .command('down')
    .description('stop the running sandbox (its containers or processes), and clean up after dead ones')
    .option('--sandbox <id>', 'the sandbox to stop, when several run')
    .option('--all', 'stop every running sandbox', false)
    .option('--timeout <seconds>', 'how long to wait for a clean stop before killing meshbox and its workloads (default: 30)', seconds)
    .action((o: { sandbox?: string; all: boolean; timeout?: number }) => run(() => runDown(o, stdio)));

  registerScenarioCommand(program, run, stdio);
  registerPrometheusConfigCommand(program, run, stdio);
  registerObserveCommands(program, run, stdio);

  return program;
}

await buildProgram().parseAsync(process.argv);

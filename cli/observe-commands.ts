/**
 * Registration of the commands that look at (and reach into) a running mesh, linkerd viz and
 * kubectl style: tap, top, stat, get, describe, delete, port-forward.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { Io } from './output.js';
import { runTap } from './commands/tap.js';
import { runTop } from './commands/top.js';
import { runStat } from './commands/stat.js';
import { runGet } from './commands/get.js';
import { runDescribe } from './commands/describe.js';
import { runDelete } from './commands/delete.js';
import { runPortForward } from './commands/port-forward.js';
import { KINDS } from './resource-kinds.js';

type Runner = (action: () => Promise<number>) => Promise<void>;

function seconds(value: string): number {
  const n = Number(value.replace(/s$/, ''));
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number of seconds');
  return Math.round(n * 1000);
}

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive whole number');
  return n;
}

const KIND_HELP = KINDS.map((k) => `${k.plural}${k.aliases.length ? ` (${k.aliases[0]})` : ''}`).join(', ');

export function registerObserveCommands(program: Command, run: Runner, io: Io): void {
  const tapFilters = (cmd: Command): Command =>
    cmd
      .option('--to <resource>', 'only requests to this service, workload or instance (svc/NAME, deploy/NAME, po/NAME or a bare name)')
      .option('--from <resource>', 'only requests from this service, workload or instance')
      .option('--path <prefix>', 'only requests whose path starts with this')
      .option('--method <method>', 'only this HTTP method')
      .option('--authority <host>', 'only this :authority (Host)')
      .option('--admin <url>', 'admin API of the sandbox');

  tapFilters(program.command('tap').description('stream the requests the sidecars see, one line each, as `linkerd viz tap` does'))
    .option('-o, --output <format>', 'wide | json')
    .option('--json', 'alias of -o json', false)
    .option('--max <n>', 'stop after this many requests', count)
    .option('--duration <seconds>', 'stop after this long', seconds)
    .action((o: Parameters<typeof runTap>[0] & { duration?: number }) => run(() => runTap({ ...o, durationMs: o.duration }, io)));

  tapFilters(program.command('top').description('requests aggregated by source, destination, method and path, refreshed in place, as `linkerd viz top` does'))
    .option('-o, --output <format>', 'json (the rows once --duration ends)')
    .option('--json', 'alias of -o json', false)
    .option('--hide-sources', 'aggregate without the Source column', false)
    .option('--interval <seconds>', 'how often the table is redrawn on a terminal (default 1)', seconds)
    .option('--duration <seconds>', 'stop after this long (a pipe gets the table then)', seconds)
    .action((o: Parameters<typeof runTop>[0] & { duration?: number; interval?: number }) => run(() => runTop({ ...o, durationMs: o.duration, intervalMs: o.interval }, io)));

  program
    .command('stat')
    .description('SUCCESS, RPS and LATENCY_P50/P95/P99 per service, workload or instance over a window, as `linkerd viz stat` does')
    .argument('[kind]', 'svc (default) | deploy | po, or svc/NAME', undefined)
    .argument('[names...]', 'only these')
    .option('-w, --window <duration>', 'time window, e.g. 30s, 1m (default 60s, at most 10m)')
    .option('-o, --output <format>', 'wide | json | yaml')
    .option('--json', 'alias of -o json', false)
    .option('--admin <url>', 'admin API of the sandbox')
    .action((kind: string | undefined, names: string[], o: Parameters<typeof runStat>[2]) => run(() => runStat(kind, names, o, io)));

  program
    .command('get')
    .description(`list what a running sandbox holds, as \`kubectl get\` does: ${KIND_HELP}`)
    .argument('<kind>', 'resource type (plural, singular or short name), or kind/name')
    .argument('[names...]', 'only these')
    .option('-l, --selector <labels>', 'only objects with these labels, e.g. app=callme-service,version=v2')
    .option('-o, --output <format>', 'wide | json | yaml | name')
    .option('--json', 'alias of -o json', false)
    .option('--admin <url>', 'admin API of the sandbox')
    .action((kind: string, names: string[], o: Parameters<typeof runGet>[2]) => run(() => runGet(kind, names, o, io)));

  program
    .command('describe')
    .description('one object and what applies to it and why (routes, policies, faults), as `kubectl describe` does')
    .argument('<kind>', 'resource type, or kind/name')
    .argument('[name]', 'its name')
    .option('-o, --output <format>', 'json | yaml')
    .option('--json', 'alias of -o json', false)
    .option('--admin <url>', 'admin API of the sandbox')
    .action((kind: string, name: string | undefined, o: Parameters<typeof runDescribe>[2]) => run(() => runDescribe(kind, name, o, io)));

  program
    .command('delete')
    .description('remove a VirtualService, DestinationRule, Gateway or Fault from the rules folder of the running sandbox, as `kubectl delete` does')
    .argument('<kind>', 'vs | dr | gw | fault, or kind/name')
    .argument('[name]', 'its name')
    .option('--no-wait', 'do not wait for the sandbox to stop applying it')
    .option('--admin <url>', 'admin API of the sandbox')
    .action((kind: string, name: string | undefined, o: Parameters<typeof runDelete>[2]) => run(() => runDelete(kind, name, o, io)));

  program
    .command('port-forward')
    .description('expose a mesh service on 127.0.0.1:<localPort> through the data plane (mesh routes apply), without a Gateway, until Ctrl-C')
    .argument('<service>', 'service name, or svc/NAME')
    .argument('<localPort>', 'local port (0 picks a free one); kubectl\'s LOCAL:REMOTE is accepted')
    .option('--duration <seconds>', 'close after this long', seconds)
    .option('--admin <url>', 'admin API of the sandbox')
    .action((service: string, port: string, o: { admin?: string; duration?: number }) => run(() => runPortForward(service, port, { admin: o.admin, durationMs: o.duration }, io)));
}

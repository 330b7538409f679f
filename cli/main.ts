#!/usr/bin/env node
/**
 * meshbox: argv -> command modules. No mesh logic here.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { packageVersion } from '../sandbox/paths.js';
import { printError, stdio } from './output.js';
import { runUp } from './commands/up.js';
import { runValidate } from './commands/validate.js';
import { runStatus } from './commands/status.js';

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
    .description('start a sandbox: the sample caller/callme mesh, or the services of --config')
    .option('-c, --config <file>', 'meshbox.yaml to run (default: the bundled sample mesh)')
    .option('-r, --rules <dir>', 'folder of Istio YAML (default: the `rules` folder of meshbox.yaml)')
    .addOption(new Option('--runtime <runtime>', 'where workloads run').choices(['auto', 'process', 'docker']).default('auto'))
    .option('--headless', 'plain output lines instead of the terminal UI', false)
    .option('--ingress-port <port>', 'port of the ingress gateway on 127.0.0.1 (default: 8080)', port)
    .option('--admin-port <port>', 'port of the admin API on 127.0.0.1 (default: 15000)', port)
    .option('--seed <n>', 'seed for every random choice (weights, faults, back-off), to replay a run', integer)
    .option('--access-log <dir>', 'folder for the per-proxy Istio access logs (default: in the state folder)')
    .option('--no-access-log', 'do not write access logs')
    .option('--no-logs', 'do not print the workloads’ own output')
    .option('--ready-timeout <seconds>', 'how long to wait for every workload to be healthy', seconds)
    .action((o: { config?: string; rules?: string; runtime: 'auto' | 'process' | 'docker'; headless: boolean; ingressPort?: number; adminPort?: number; seed?: number; accessLog?: string | boolean; logs: boolean; readyTimeout?: number }) =>
      run(() =>
        runUp(
          {
            config: o.config,
            rules: o.rules,
            runtime: o.runtime,
            headless: o.headless,
            ingressPort: o.ingressPort,
            adminPort: o.adminPort,
            seed: o.seed,
            accessLog: o.accessLog === false ? false : typeof o.accessLog === 'string' ? o.accessLog : undefined,
            logs: o.logs,
            readyTimeout: o.readyTimeout,
          },
          stdio,
        ),
      ),
    );

  program
    .command('validate')
    .description('validate meshbox.yaml and Istio rule files like the API server and `istioctl analyze` would; exits 1 on errors')
    .argument('[paths...]', 'files or folders (default: ./meshbox.yaml and its rules, else the sample mesh)')
    .option('-c, --config <file>', 'meshbox.yaml whose services the rules are checked against')
    .option('--json', 'print the findings as JSON', false)
    .action((paths: string[], o: { config?: string; json: boolean }) => run(() => runValidate(paths, o, stdio)));

  program
    .command('status')
    .description('show a running sandbox: instances, health, ports, rules version')
    .option('--admin <url>', 'admin API of the sandbox (default: the running one, else http://127.0.0.1:15000)')
    .option('--json', 'print the raw status as JSON', false)
    .action((o: { admin?: string; json: boolean }) => run(() => runStatus(o, stdio)));

  return program;
}

await buildProgram().parseAsync(process.argv);

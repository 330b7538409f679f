/**
 * `meshbox prometheus-config`: a Prometheus scrape job for the running sandbox(es).
 *
 * Prometheus scrapes meshbox's admin API (`/stats/prometheus`, Envoy's path), which serves the
 * Istio metrics of every proxy of the sandbox, each series labelled with the `pod` and `namespace`
 * Istio's `kubernetes-pods` scrape job would have attached, so Istio's dashboards and queries work
 * as they are. One target per sandbox, labelled `meshbox_sandbox`.
 *
 *   meshbox prometheus-config                    prints the job with a static target list
 *   meshbox prometheus-config --file-sd FILE     prints the job with a file_sd config, then stays in
 *                                                the foreground and keeps FILE current: sandboxes
 *                                                that start are added, those that stop removed
 */
import { InvalidArgumentError, type Command } from 'commander';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { MeshError } from '../../sandbox/errors.js';
import { isAlive, listSandboxes, stateDir } from '../../sandbox/runtime/sandbox-state.js';
import { adminRequest } from '../admin-client.js';
import type { Io } from '../output.js';

export const METRICS_PATH = '/stats/prometheus';
export const JOB_NAME = 'meshbox';

export interface PrometheusConfigOptions {
  admin?: string;
  /** keep this file_sd JSON file current, in the foreground */
  fileSd?: string;
  /** file_sd: ms between two looks at the running sandboxes */
  intervalMs?: number;
  /** Prometheus scrape_interval, e.g. `5s` */
  scrapeInterval?: string;
}

/** one running sandbox as a Prometheus target */
export interface SandboxTarget {
  sandbox: string;
  /** host:port of its admin API */
  address: string;
}

/** a file_sd target group, as Prometheus reads it */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

async function probe(adminUrl: string): Promise<SandboxTarget | undefined> {
  try {
    const reply = await adminRequest(`${adminUrl.replace(/\/$/, '')}/status`, 'GET', undefined, 2_000);
    const body = reply.body as { sandbox?: unknown } | string;
    if (reply.status !== 200 || typeof body !== 'object' || typeof body.sandbox !== 'string') return undefined;
    return { sandbox: body.sandbox, address: new URL(adminUrl).host };
  } catch {
    return undefined;
  }
}

/**
 * The sandboxes that answer now: the one at `--admin`, else every sandbox recorded in the state
 * folder (sandbox-state.ts) whose meshbox is alive.
 */
export async function runningSandboxes(admin?: string): Promise<SandboxTarget[]> {
  if (admin) {
    const t = await probe(admin);
    return t ? [t] : [];
  }
  const urls = [...new Set(listSandboxes().filter((r) => r.adminUrl && isAlive(r.ownerPid)).map((r) => r.adminUrl!))];
  const found = (await Promise.all(urls.map(probe))).filter((t): t is SandboxTarget => t !== undefined);
  return found.sort((a, b) => a.sandbox.localeCompare(b.sandbox));
}

export function targetGroups(targets: readonly SandboxTarget[]): TargetGroup[] {
  return targets.map((t) => ({ targets: [t.address], labels: { meshbox_sandbox: t.sandbox } }));
}

/** the scrape job, static (the targets of now) or file_sd (the file meshbox keeps current) */
export function scrapeConfig(opts: { targets?: readonly SandboxTarget[]; fileSd?: string; scrapeInterval?: string }): string {
  const job: Record<string, unknown> = {
    job_name: JOB_NAME,
    metrics_path: METRICS_PATH,
    scrape_interval: opts.scrapeInterval ?? '5s',
  };
  if (opts.fileSd) job['file_sd_configs'] = [{ files: [path.resolve(opts.fileSd)] }];
  else job['static_configs'] = targetGroups(opts.targets ?? []);
  const what = opts.fileSd
    ? `the meshbox sandboxes listed in ${path.resolve(opts.fileSd)} (kept current while \`meshbox prometheus-config --file-sd\` runs)`
    : `the running meshbox sandbox${(opts.targets ?? []).length === 1 ? '' : 's'} ${(opts.targets ?? []).map((t) => `${t.sandbox} (admin ${t.address})`).join(', ')}`;
  return [
    `# Prometheus scrape job for ${what}.`,
    '# Merge it into the scrape_configs of your prometheus.yml. Every series carries the pod and',
    "# namespace labels Istio's kubernetes-pods job adds, so Istio's Grafana dashboards work unchanged.",
    '# Prometheus must reach 127.0.0.1: run it on this machine (in Docker: --network host).',
    stringify({ scrape_configs: [job] }, { lineWidth: 0 }).trimEnd(),
  ].join('\n');
}

function noSandbox(admin: string | undefined): MeshError {
  const where = admin ?? `the admin addresses recorded in ${path.join(stateDir(), 'sandboxes')}`;
  return new MeshError('MESH_ERR_ADMIN_UNREACHABLE', [where, admin ? 'no sandbox answered' : 'no sandbox is running'], {
    hint: `start one with \`meshbox up\` first, then run \`meshbox prometheus-config\` again${admin ? '' : ' (or pass --admin with the admin address of a running sandbox)'}`,
  });
}

/** writes the file_sd JSON atomically (Prometheus may read it at any moment); true when it changed */
export function writeTargetsFile(file: string, groups: readonly TargetGroup[]): boolean {
  const text = `${JSON.stringify(groups, null, 2)}\n`;
  try {
    if (readFileSync(file, 'utf8') === text) return false;
  } catch {
    // not there yet
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
  return true;
}

function describe(targets: readonly SandboxTarget[]): string {
  return targets.length === 0 ? 'no sandbox running: 0 targets' : targets.map((t) => `${t.sandbox} at ${t.address}`).join(', ');
}

export async function runPrometheusConfig(opts: PrometheusConfigOptions, io: Io, signal?: AbortSignal): Promise<number> {
  const admin = opts.admin?.replace(/\/$/, '');
  if (admin && !/^https?:\/\/[^/]+$/.test(admin)) throw new MeshError('MESH_ERR_USAGE', [`--admin ${opts.admin} is not an admin address`], { hint: 'pass it as http://HOST:PORT, e.g. http://127.0.0.1:15000' });
  const targets = await runningSandboxes(admin);
  if (targets.length === 0) throw noSandbox(admin);
  if (!opts.fileSd) {
    io.out(scrapeConfig({ targets, scrapeInterval: opts.scrapeInterval }));
    return 0;
  }

  const file = path.resolve(opts.fileSd);
  try {
    writeTargetsFile(file, targetGroups(targets));
  } catch (e) {
    throw new MeshError('MESH_ERR_USAGE', [`cannot write the file_sd targets file ${file}: ${(e as Error).message}`], { hint: 'pass --file-sd a file in a folder you may write (it is created if missing)' });
  }
  io.out(scrapeConfig({ fileSd: file, scrapeInterval: opts.scrapeInterval }));
  io.err(`${file}: ${describe(targets)}; kept current until Ctrl-C`);

  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  signal?.addEventListener('abort', onSignal, { once: true });
  try {
    while (!stop.signal.aborted) {
      await sleep(opts.intervalMs ?? 2_000, stop.signal);
      if (stop.signal.aborted) break;
      const now = await runningSandboxes(admin);
      try {
        if (writeTargetsFile(file, targetGroups(now))) io.err(`${file}: ${describe(now)}`);
      } catch (e) {
        io.err(`${file}: not updated (${(e as Error).message}); trying again in a moment`);
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export function registerPrometheusConfigCommand(program: Command, run: (action: () => Promise<number>) => Promise<void>, io: Io): void {
  const seconds = (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number of seconds');
    return Math.round(n * 1000);
  };
  const duration = (value: string): string => {
    if (!/^\d+(ms|s|m|h)$/.test(value)) throw new InvalidArgumentError('must be a Prometheus duration such as 5s, 30s or 1m');
    return value;
  };
  program
    .command('prometheus-config')
    .description("print a Prometheus scrape job for the running sandbox(es); with --file-sd, keep a file_sd targets file current in the foreground")
    .option('--admin <url>', 'only the sandbox with this admin API (default: every running sandbox)')
    .option('--file-sd <file>', 'write the targets to this file_sd JSON file and keep it current until Ctrl-C (the job printed reads it)')
    .option('--interval <seconds>', 'with --file-sd: how often to look for sandboxes that started or stopped (default 2)', seconds)
    .option('--scrape-interval <duration>', 'scrape_interval of the job (default 5s)', duration)
    .action((o: { admin?: string; fileSd?: string; interval?: number; scrapeInterval?: string }) =>
      run(() => runPrometheusConfig({ admin: o.admin, fileSd: o.fileSd, intervalMs: o.interval, scrapeInterval: o.scrapeInterval }, io)),
    );
}

/**
 * Istio's Grafana dashboards (Mesh, Service, Workload) on meshbox's metrics: the sample mesh runs
 * (`meshbox up`, process runtime), gets traffic (2xx, 4xx at the gateway, 5xx from an injected
 * fault), and Prometheus' view of it is rebuilt from `meshbox prometheus-config`: its target is
 * scraped and every selector and grouping label of the dashboards' queries
 * (test/fixtures/grafana/istio-dashboards.yaml) is checked against the series. A selector matches
 * at least one series, or it is listed as known-empty there (TCP, mTLS) and matches none.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad } from '../../sandbox/chaos/load-generator.js';
import { httpGet, interrupt, ROOT, runCli, startCli, waitForHttp, type CliRun } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { analyzeQuery, interpolate, parseExposition, select, type Sample, type Selector } from '../helpers/promql.js';

interface Fixture {
  variables: Record<string, string>;
  /** `matcher`: one label matcher, or several that must all be in the selector */
  knownEmpty: Array<{ metric?: string; matcher?: string | string[]; reason: string }>;
  prometheusLabels: string[];
  dashboards: Array<{
    name: string;
    panels: Array<{ title: string; queries: string[] }>;
    variables?: Array<{ name: string; query?: string; labelValues?: string }>;
  }>;
}

interface ScrapeJob {
  job_name: string;
  metrics_path: string;
  static_configs?: Array<{ targets: string[]; labels?: Record<string, string> }>;
  file_sd_configs?: Array<{ files: string[] }>;
}

const fixture = parse(readFileSync(path.join(ROOT, 'test', 'fixtures', 'grafana', 'istio-dashboards.yaml'), 'utf8')) as Fixture;
const HOST = { host: 'caller.example.com' };

function jobOf(yamlText: string): ScrapeJob {
  const doc = parse(yamlText) as { scrape_configs?: ScrapeJob[] };
  expect(doc.scrape_configs).toHaveLength(1);
  return doc.scrape_configs![0]!;
}

/** what Prometheus stores for a static job: each target's samples plus job, instance and the target labels */
async function scrapeLikePrometheus(job: ScrapeJob): Promise<Sample[]> {
  const out: Sample[] = [];
  for (const group of job.static_configs ?? []) {
    for (const target of group.targets) {
      const r = await httpGet(`http://${target}${job.metrics_path}`);
      expect(r.status).toBe(200);
      for (const s of parseExposition(r.body)) out.push({ ...s, labels: { ...s.labels, job: job.job_name, instance: target, ...group.labels } });
    }
  }
  return out;
}

function knownEmptyRule(s: Selector): Fixture['knownEmpty'][number] | undefined {
  return fixture.knownEmpty.find(
    (r) => (r.metric !== undefined && new RegExp(r.metric).test(s.metric)) || (r.matcher !== undefined && [r.matcher].flat().every((want) => s.matchers.some((m) => `${m.label}${m.op}"${m.value}"` === want))),
  );
}

describe('Istio Grafana dashboards on meshbox metrics', () => {
  let run: CliRun;
  let ingress = '';
  let admin = '';
  let stateDir = '';
  const env = (): Record<string, string> => ({ MESHBOX_STATE_DIR: stateDir });

  beforeAll(async () => {
    const [ip, ap] = [await freePort(), await freePort()];
    ingress = `http://127.0.0.1:${ip}`;
    admin = `http://127.0.0.1:${ap}`;
    stateDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-state-'));
    run = startCli(['up', '--headless', '--runtime', 'process', '--ingress-port', String(ip), '--admin-port', String(ap), '--seed', '17', '--no-logs', '--no-access-log'], env());
    await run.waitFor('meshbox is up', 45_000);
    await waitForHttp(`${admin}/ready`);

    const ok = await runLoad({ url: `${ingress}/caller/ping`, headers: HOST, concurrency: 4, maxRequests: 60, durationMs: 30_000 });
    expect(ok.statusCounts['200']).toBe(60);
    for (let i = 0; i < 3; i++) expect((await httpGet(`${ingress}/caller/ping`, { host: 'nobody.example.com' })).status).toBe(404);
    const fault = await runCli(['fault', 'add', 'callme-service', '--abort', '503', '--name', 'dash-5xx', '--admin', admin], env());
    expect(fault.code, fault.output).toBe(0);
    const failing = await runLoad({ url: `${ingress}/caller/ping`, headers: HOST, concurrency: 2, maxRequests: 10, durationMs: 30_000 });
    expect(Object.keys(failing.statusCounts).filter((s) => s.startsWith('5')).length).toBeGreaterThan(0);
    expect((await runCli(['fault', 'rm', '--all', '--admin', admin], env())).code).toBe(0);
  });

  afterAll(async () => {
    if (run) await interrupt(run);
  });

  it('prometheus-config prints a job whose target is the sandbox’s admin API, labelled with the sandbox', async () => {
    const r = await runCli(['prometheus-config'], env());
    expect(r.code, r.output).toBe(0);
    const job = jobOf(r.output);
    const status = (await httpGet(`${admin}/status`)).body;
    expect(job).toMatchObject({ job_name: 'meshbox', metrics_path: '/stats/prometheus' });
    expect(job.static_configs).toEqual([{ targets: [new URL(admin).host], labels: { meshbox_sandbox: (JSON.parse(status) as { sandbox: string }).sandbox } }]);
  });

  it('every selector and grouping label of the Mesh, Service and Workload dashboards finds its series (or is a listed known-empty one)', async () => {
    const samples = await scrapeLikePrometheus(jobOf((await runCli(['prometheus-config'], env())).output));
    const failures: string[] = [];
    const emptyRulesUsed = new Set<string>();
    let checked = 0;
    const check = (where: string, query: string): void => {
      const use = analyzeQuery(interpolate(query, fixture.variables));
      if (use.selectors.length === 0) failures.push(`${where}: no series selector found in ${query}`);
      for (const s of use.selectors) {
        checked++;
        const found = select(samples, s);
        const rule = knownEmptyRule(s);
        const ofMetric = samples.filter((x) => x.name === s.metric);
        if (rule) {
          emptyRulesUsed.add(rule.reason);
          if (found.length > 0) failures.push(`${where}: ${s.text} is listed as known-empty (${rule.reason}) but matches ${found.length} series: update the list`);
          // empty for a label value meshbox does not produce yet: the labels themselves must exist
          if (rule.metric === undefined) {
            for (const l of [...s.matchers.map((m) => m.label), ...use.grouping]) if (!ofMetric.some((x) => l in x.labels)) failures.push(`${where}: no ${s.metric} series has the label ${l} (${s.text})`);
          }
          continue;
        }
        for (const m of s.matchers) if (!ofMetric.some((x) => m.label in x.labels)) failures.push(`${where}: no ${s.metric} series has the label ${m.label} (${s.text})`);
        if (found.length === 0) failures.push(`${where}: ${s.text} matches no series`);
        for (const g of use.grouping) if (found.length > 0 && !found.every((x) => g in x.labels)) failures.push(`${where}: ${s.metric} series lack the grouping label ${g}`);
      }
    };
    for (const d of fixture.dashboards) {
      for (const p of d.panels) for (const q of p.queries) check(`${d.name} / ${p.title}`, q);
      for (const v of d.variables ?? []) {
        if (v.query) check(`${d.name} / variable $${v.name}`, v.query);
        if (v.labelValues) {
          const values = new Set(samples.map((x) => x.labels[v.labelValues!]).filter((x) => x !== undefined));
          if (!values.has('source') || !values.has('destination')) failures.push(`${d.name} / variable $${v.name}: label_values(${v.labelValues}) = ${[...values].join(',')}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(100);
    // every known-empty entry is still needed (an entry no selector hits is stale)
    expect([...emptyRulesUsed].sort()).toEqual(fixture.knownEmpty.map((r) => r.reason).sort());
    // and the known-empty TCP metrics are really absent, not exported empty
    expect(samples.filter((x) => x.name.startsWith('istio_tcp_'))).toEqual([]);
  });

  it('every istio_* series carries pod and namespace, one istio_build per proxy; replicas are separate series', async () => {
    const samples = await scrapeLikePrometheus(jobOf((await runCli(['prometheus-config'], env())).output));
    const istio = samples.filter((x) => x.name.startsWith('istio_'));
    expect(istio.length).toBeGreaterThan(100);
    for (const l of fixture.prometheusLabels) expect(istio.filter((x) => !x.labels[l]).map((x) => x.name)).toEqual([]);

    const status = JSON.parse((await httpGet(`${admin}/status`)).body) as { instances: Array<{ id: string }> };
    const proxies = ['istio-ingressgateway', ...status.instances.map((i) => i.id)].sort();
    const builds = samples.filter((x) => x.name === 'istio_build');
    expect(builds.map((x) => x.labels['pod']).sort()).toEqual(proxies);
    for (const b of builds) expect(b.labels['namespace']).toBe(b.labels['pod'] === 'istio-ingressgateway' ? 'istio-system' : 'default');

    // pod is the reporting proxy: the callme v2 replicas' inbound sidecars, the caller's outbound one
    const v2 = samples.filter((x) => x.name === 'istio_requests_total' && x.labels['destination_workload'] === 'callme-service-v2' && x.labels['response_code'] === '200');
    expect(new Set(v2.filter((x) => x.labels['reporter'] === 'destination').map((x) => x.labels['pod']))).toEqual(new Set(['callme-service-v2-1', 'callme-service-v2-2']));
    expect(new Set(v2.filter((x) => x.labels['reporter'] === 'source').map((x) => x.labels['pod']))).toEqual(new Set(['caller-service-v1-1']));
  });

  it('a --file-sd path that cannot be written is one clear message, exit 64', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-sd-'));
    writeFileSync(path.join(dir, 'a-file'), 'x');
    const bad = path.join(dir, 'a-file', 'targets.json');
    const r = await runCli(['prometheus-config', '--file-sd', bad], env());
    expect(r.code).toBe(64);
    expect(r.output).toContain(`error MESH_ERR_USAGE: cannot write the file_sd targets file ${bad}`);
    expect(r.output).toContain('hint: pass --file-sd a file in a folder you may write');
    expect(r.output).not.toMatch(/\n\s+at /);
  });

  it('prometheus-config --file-sd keeps the targets file current: the sandbox is in it while it runs, gone once it stops', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'meshbox-sd-')), 'targets', 'meshbox.json');
    const watcher = startCli(['prometheus-config', '--file-sd', file, '--interval', '0.2'], env());
    try {
      await watcher.waitFor('kept current until Ctrl-C', 15_000);
      const job = jobOf(watcher.output().split('\n').filter((l) => !l.startsWith(file)).join('\n'));
      expect(job.file_sd_configs).toEqual([{ files: [file] }]);
      const groups = JSON.parse(readFileSync(file, 'utf8')) as Array<{ targets: string[]; labels: Record<string, string> }>;
      expect(groups).toHaveLength(1);
      expect(groups[0]!.targets).toEqual([new URL(admin).host]);

      expect(await interrupt(run)).toBe(0);
      await watcher.waitFor('no sandbox running: 0 targets', 15_000);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual([]);
    } finally {
      expect(await interrupt(watcher)).toBe(0);
    }
  });

  it('without a running sandbox it says so and how to start one, exit 1', async () => {
    const r = await runCli(['prometheus-config'], { MESHBOX_STATE_DIR: mkdtempSync(path.join(os.tmpdir(), 'meshbox-state-')) });
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/error MESH_ERR_ADMIN_UNREACHABLE: no meshbox sandbox answers .*no sandbox is running/);
    expect(r.output).toContain('`meshbox up` first');
    expect(r.output).not.toMatch(/\n\s+at /);
  });
});

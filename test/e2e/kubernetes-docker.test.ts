/**
 * Kubernetes manifests with the Docker runtime: `meshbox up -f` builds the manifests' images
 * offline (on meshbox's Node base image) from a skaffold.yaml artifact and from a folder named like
 * the image, runs the containers as Kubernetes would (`args` replace the image's CMD, `command`
 * its ENTRYPOINT), says once where each image that cannot run is (neither local nor buildable;
 * an unsupported skaffold builder) and brings up the rest; `meshbox dev` rebuilds the changed
 * image only and rolls its workload with zero failed requests, the other service untouched.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ROOT, httpGet, interrupt, runCli, startCli, type CliRun } from '../helpers/cli.js';
import { dockerForTests, sandboxContainers, testDocker } from '../helpers/docker-available.js';
import { freePort } from '../helpers/free-port.js';

const docker = await dockerForTests('Kubernetes manifests with Docker e2e tests');

// the app of both images: its greeting (baked in at build time), its argv, the instance, when it started
const SERVER = `import http from 'node:http';
import { readFileSync } from 'node:fs';
const read = (f) => { try { return readFileSync(f, 'utf8').trim(); } catch { return ''; } };
const greeting = [read('/srv/greeting.txt'), read('/srv/build-arg.txt')].filter(Boolean).join(' ');
const started = Date.now();
const server = http.createServer((req, res) => {
  if (req.url === '/healthz') { res.end('ok'); return; }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ greeting, argv: process.argv.slice(2), instance: process.env.MESHBOX_INSTANCE, started }));
});
server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => { server.close(() => process.exit(0)); setTimeout(() => process.exit(0), 500).unref(); });
`;

const nonce = randomBytes(4).toString('hex');
const work = mkdtempSync(path.join(os.tmpdir(), 'meshbox-k8s-docker-'));
const project = path.join(work, 'project');

/** k8s/ manifests, skaffold.yaml (greeter: docker builder with a build arg; jibbed: jib), hello/ named like its image */
function writeProject(): void {
  for (const d of ['k8s', 'greeter', 'hello']) mkdirSync(path.join(project, d), { recursive: true });
  writeFileSync(path.join(project, 'greeter', 'server.mjs'), SERVER);
  writeFileSync(path.join(project, 'greeter', 'greeting.txt'), `hello ${nonce}\n`);
  writeFileSync(
    path.join(project, 'greeter', 'Dockerfile.dev'),
    ['ARG MESHBOX_NODE_IMAGE', 'FROM ${MESHBOX_NODE_IMAGE}', 'ARG GREETING=none', 'COPY server.mjs greeting.txt /srv/', 'RUN echo "$GREETING" > /srv/build-arg.txt', 'WORKDIR /srv', 'ENTRYPOINT ["node"]', 'CMD ["server.mjs", "from-the-image-cmd"]', ''].join('\n'),
  );
  writeFileSync(path.join(project, 'hello', 'server.mjs'), SERVER);
  writeFileSync(path.join(project, 'hello', 'nonce.txt'), `${nonce}\n`);
  // the image's own ENTRYPOINT fails: the manifest's `command` replaces it
  writeFileSync(path.join(project, 'hello', 'Dockerfile'), ['ARG MESHBOX_NODE_IMAGE', 'FROM ${MESHBOX_NODE_IMAGE}', 'COPY server.mjs nonce.txt /srv/', 'WORKDIR /srv', 'ENTRYPOINT ["node", "-e", "process.exit(7)"]', ''].join('\n'));
  writeFileSync(
    path.join(project, 'skaffold.yaml'),
    [
      'apiVersion: skaffold/v4beta11',
      'kind: Config',
      'build:',
      '  artifacts:',
      '    - image: example/greeter',
      '      context: greeter',
      '      docker:',
      '        dockerfile: Dockerfile.dev',
      `        buildArgs: { GREETING: "arg-${nonce}" }`,
      '    - image: example/jibbed',
      '      jib: {}',
      '',
    ].join('\n'),
  );
  const app = (name: string, image: string, container: string, replicas = 1): string =>
    [
      'apiVersion: apps/v1',
      'kind: Deployment',
      `metadata: { name: ${name} }`,
      'spec:',
      `  replicas: ${replicas}`,
      `  selector: { matchLabels: { app: ${name} } }`,
      '  template:',
      `    metadata: { labels: { app: ${name}, version: v1 } }`,
      '    spec:',
      '      containers:',
      `        - name: ${name}`,
      `          image: ${image}`,
      '          ports: [{ name: http, containerPort: 8080 }]',
      '          readinessProbe: { httpGet: { path: /healthz, port: http }, periodSeconds: 1 }',
      ...container.split('\n').filter(Boolean).map((l) => `          ${l}`),
      '---',
      'apiVersion: v1',
      'kind: Service',
      `metadata: { name: ${name} }`,
      'spec:',
      `  selector: { app: ${name} }`,
      '  ports: [{ name: http, port: 8080, targetPort: http }]',
    ].join('\n');
  writeFileSync(
    path.join(project, 'k8s', 'apps.yaml'),
    [
      app('greeter', 'example/greeter:dev', 'args: [server.mjs, from-the-manifest-args]', 2),
      app('hello', 'example/hello', 'command: [node, /srv/server.mjs, from-the-manifest-command]'),
      app('nowhere', `example/nowhere-${nonce}:1.0`, ''),
      app('jibbed', 'example/jibbed', ''),
    ].join('\n---\n') + '\n',
  );
  writeFileSync(
    path.join(project, 'k8s', 'istio.yaml'),
    [
      'apiVersion: networking.istio.io/v1',
      'kind: Gateway',
      'metadata: { name: dev-gateway }',
      'spec:',
      '  selector: { istio: ingressgateway }',
      '  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*.test"] }]',
      ...['greeter', 'hello'].flatMap((h) => ['---', 'apiVersion: networking.istio.io/v1', 'kind: VirtualService', `metadata: { name: ${h} }`, 'spec:', `  hosts: [${h}.test]`, '  gateways: [dev-gateway]', `  http: [{ route: [{ destination: { host: ${h} } }] }]`]),
      '',
    ].join('\n'),
  );
}

interface Answer {
  greeting: string;
  argv: string[];
  instance: string;
  started: number;
}

const runs: CliRun[] = [];
const built = new Set<string>();
afterEach(async () => {
  for (const r of runs.splice(0)) {
    if (r.proc.exitCode === null && r.proc.signalCode === null) await interrupt(r);
    for (const m of r.output().matchAll(/building image (meshbox\/(?:greeter|hello|callme-service|caller-service):[0-9a-f]{12})/g)) built.add(m[1]!);
  }
});
afterAll(async () => {
  // the images built here hold this run's nonce: nobody will use them again
  if (docker.available) {
    const d = await testDocker();
    for (const tag of built) await d.getImage(tag).remove({ force: true }).catch(() => undefined);
  }
  rmSync(work, { recursive: true, force: true });
});

async function start(command: 'up' | 'dev', files: string[] = [path.join(project, 'k8s')], extra: string[] = []): Promise<{ run: CliRun; ask: (host: string) => Promise<{ status: number; answer?: Answer }>; sandbox: () => string; ingress: string }> {
  const ip = await freePort();
  const run = startCli([command, '--headless', '--runtime', 'docker', '--ingress-port', String(ip), '--admin-port', String(await freePort()), '--no-access-log', '--no-toxiproxy-api', ...files.flatMap((f) => ['-f', f]), ...extra], { MESHBOX_STATE_DIR: path.join(work, 'state') });
  runs.push(run);
  await run.waitFor('meshbox is up', 120_000);
  const ask = async (host: string): Promise<{ status: number; answer?: Answer }> => {
    const r = await httpGet(`http://127.0.0.1:${ip}/`, { host });
    return { status: r.status, ...(r.status === 200 ? { answer: JSON.parse(r.body) as Answer } : {}) };
  };
  return { run, ask, sandbox: () => /meshbox is up\s+sandbox (\S+)/.exec(run.output())?.[1] ?? '', ingress: `http://127.0.0.1:${ip}` };
}

describe.skipIf(!docker.available)('Kubernetes manifests with the Docker runtime', { timeout: 180_000 }, () => {
  writeProject();

  it('up -f: images built offline from skaffold.yaml and from a folder named like the image, run as Kubernetes runs them; what cannot run is one message with its location, the rest comes up', async () => {
    const { run, ask } = await start('up');
    const out = run.output();
    // the two images that cannot run: where, and what to do
    expect(out).toMatch(/k8s\/apps\.yaml:\d+:\d+: error MB4005: Deployment nowhere: image example\/nowhere-[0-9a-f]+:1\.0 is not in the local Docker image store and has no build recipe/);
    expect(out).toContain(`hint: add \`{ image: example/nowhere-${nonce}, context: <folder with its Dockerfile> }\` to \`build.artifacts\` of ${path.join(project, 'skaffold.yaml')}, or a folder ${path.join(project, 'k8s', `nowhere-${nonce}`)}/ holding its Dockerfile`);
    expect(out).toMatch(/skaffold\.yaml:11:7: error MB4006: skaffold artifact example\/jibbed: the `jib` builder is not supported/);
    expect(out).toContain('the rest of the project comes up; what the errors above name does not');
    // built offline: greeter from its skaffold artifact (Dockerfile.dev, the build arg), hello from hello/Dockerfile
    expect(out).toMatch(/building image meshbox\/greeter:[0-9a-f]{12} for greeter from .*\/greeter\/Dockerfile\.dev/);
    expect(out).toMatch(/building image meshbox\/hello:[0-9a-f]{12} for hello from .*\/hello\/Dockerfile/);
    expect(out).not.toMatch(/pulling/);

    const greeter = await ask('greeter.test');
    // `args` replaced the image's CMD and kept its ENTRYPOINT (node)
    expect(greeter).toMatchObject({ status: 200, answer: { greeting: `hello ${nonce} arg-${nonce}`, argv: ['from-the-manifest-args'] } });
    // `command` replaced the image's ENTRYPOINT (which exits 7)
    const hello = await ask('hello.test');
    expect(hello).toMatchObject({ status: 200, answer: { greeting: '', argv: ['from-the-manifest-command'] } });
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) seen.add((await ask('greeter.test')).answer!.instance);
    expect([...seen].sort()).toEqual(['greeter-1', 'greeter-2']);
    expect(await interrupt(run)).toBe(0);
  });

  it('dev: a change in greeter/ rebuilds greeter only and rolls it with zero failed requests; hello is untouched', async () => {
    const { run, ask, sandbox } = await start('dev');
    await run.waitFor(/dev: watching greeter \(.*greeter\), hello \(.*hello\)/);
    // unchanged sources since the test above: the images are reused (built here when it did not run)
    expect(run.output()).toMatch(/image meshbox\/greeter:[0-9a-f]{12} for greeter is up to date|building image meshbox\/greeter/);
    const helloBefore = (await ask('hello.test')).answer!;
    const containersBefore = await sandboxContainers(sandbox());

    writeFileSync(path.join(project, 'greeter', 'greeting.txt'), `bonjour ${nonce}\n`);
    // steady load until both greeter instances answer the new greeting (bounded: 60 s, at most 6000 requests)
    const statuses = new Map<number, number>();
    const fresh = new Set<string>();
    const deadline = Date.now() + 60_000;
    for (let i = 0; i < 6000 && Date.now() < deadline && fresh.size < 2; i++) {
      const r = await ask('greeter.test');
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (r.answer?.greeting.startsWith('bonjour')) fresh.add(r.answer.instance);
    }
    await run.waitFor('greeter: restarted in', 30_000);
    expect([...statuses.keys()]).toEqual([200]);
    expect(fresh.size).toBe(2);
    const out = run.output();
    expect(out).toMatch(/building image meshbox\/greeter:[0-9a-f]{12} for greeter from .*\/greeter\/Dockerfile\.dev/);
    expect(out).toContain('(greeter rolling)');
    // the build arg and the manifest's args hold after the rebuild
    expect((await ask('greeter.test')).answer).toMatchObject({ greeting: `bonjour ${nonce} arg-${nonce}`, argv: ['from-the-manifest-args'] });
    // hello: same process, no rebuild
    expect((await ask('hello.test')).answer).toEqual(helloBefore);
    expect(out.match(/building image meshbox\/hello/g) ?? []).toHaveLength(0);
    const helloContainers = (names: string[]): string[] => names.filter((n) => n.includes('hello'));
    expect(helloContainers(await sandboxContainers(sandbox()))).toEqual(helloContainers(containersBefore));
    expect(await interrupt(run)).toBe(0);
    expect(await sandboxContainers(sandbox())).toEqual([]);
  });

  it('the sample-shaped manifests, unchanged, with a folder named like each image holding its Dockerfile: the sample answers as with processes', async () => {
    // example/callme-service and example/caller-service: the compiled sample apps on meshbox's Node image
    const sample = path.join(work, 'sample');
    for (const d of ['callme', 'caller']) cpSync(path.join(ROOT, 'test', 'fixtures', 'kubernetes', 'sample-shape', d), path.join(sample, d), { recursive: true });
    for (const app of ['callme', 'caller']) {
      const folder = path.join(sample, `${app}-service`);
      cpSync(path.join(ROOT, 'dist', 'sample-services', app), folder, { recursive: true, dereference: true });
      writeFileSync(path.join(folder, 'package.json'), `{"type":"module","description":"${nonce}"}\n`);
      writeFileSync(path.join(folder, 'Dockerfile'), ['ARG MESHBOX_NODE_IMAGE', 'FROM ${MESHBOX_NODE_IMAGE}', 'COPY . /app', 'WORKDIR /app', 'CMD ["node", "main.js"]', ''].join('\n'));
    }
    const { run, ingress } = await start('up', [path.join(sample, 'callme'), path.join(sample, 'caller')]);
    expect(run.output()).toMatch(/building image meshbox\/callme-service:[0-9a-f]{12} for callme-service from .*\/callme-service\/Dockerfile/);
    expect(run.output()).not.toMatch(/error MB/);
    const seen = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const r = await httpGet(`${ingress}/caller/ping`, { host: 'caller.test' });
      seen.set(`${r.status} ${r.body}`, (seen.get(`${r.status} ${r.body}`) ?? 0) + 1);
    }
    expect(new Set(seen.keys())).toEqual(new Set(["200 I'm caller-service v1. Calling... I'm callme-service v1", "200 I'm caller-service v1. Calling... I'm callme-service v2"]));
    expect(await interrupt(run)).toBe(0);
  });

  it('round trip with Docker: a meshbox.yaml `build:` exported (Deployment + skaffold.yaml artifact) and run again with up -f builds the same image and answers the same', async () => {
    const trip = path.join(work, 'trip');
    mkdirSync(path.join(trip, 'rules'), { recursive: true });
    writeFileSync(path.join(trip, 'meshbox.yaml'), ['services:', '  greeter:', '    port: 8080', `    build: { context: ../project/greeter, dockerfile: Dockerfile.dev, args: { GREETING: "trip-${nonce}" } }`, '    health: /healthz', '    replicas: 2', ''].join('\n'));
    writeFileSync(path.join(trip, 'rules', 'ingress.yaml'), readFileSync(path.join(project, 'k8s', 'istio.yaml'), 'utf8').split('---\n').slice(0, 2).join('---\n'));
    const answers = async (run: Awaited<ReturnType<typeof start>>): Promise<Answer[]> => {
      const out: Answer[] = [];
      for (let i = 0; i < 8; i++) out.push((await run.ask('greeter.test')).answer!);
      return out;
    };
    const original = await start('up', [], ['--config', path.join(trip, 'meshbox.yaml')]);
    const before = await answers(original);
    expect(await interrupt(original.run)).toBe(0);

    const out = path.join(work, 'trip-out');
    const exported = await runCli(['export', '--k8s', out, '--config', path.join(trip, 'meshbox.yaml')]);
    expect(exported.code, exported.output).toBe(0);
    const back = await start('up', [out]);
    // the image is the same build (same context, Dockerfile and args): reused, not rebuilt
    expect(back.run.output()).toMatch(/image meshbox\/greeter:[0-9a-f]{12} for greeter is up to date/);
    expect(back.run.output()).not.toMatch(/error MB/);
    const after = await answers(back);
    // the image's own CMD (no command in meshbox.yaml, none in the export), the build arg, the same two instances
    const greeting = `${readFileSync(path.join(project, 'greeter', 'greeting.txt'), 'utf8').trim()} trip-${nonce}`;
    for (const a of [...before, ...after]) expect(a).toMatchObject({ greeting, argv: ['from-the-image-cmd'] });
    expect(new Set(after.map((a) => a.instance))).toEqual(new Set(['greeter-v1-1', 'greeter-v1-2']));
    expect(new Set(before.map((a) => a.instance))).toEqual(new Set(['greeter-v1-1', 'greeter-v1-2']));
    expect(await interrupt(back.run)).toBe(0);
  });
});

/**
 * A small project for Docker runtime tests, written to a temp folder so tests can change its
 * sources: `web` (a process-style `command: [node, web/main.js]`, turned into a generated image)
 * and `built` (a `build:` context whose Dockerfile starts FROM meshbox's offline Node image).
 * Both answer JSON describing what they see (env, working directory, files), `/healthz`, `/log`
 * (one stdout and one stderr line) and `/exit/<code>`.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function appSource(message: string): string {
  return `import http from 'node:http';
import { readFileSync } from 'node:fs';
const MESSAGE = ${JSON.stringify(message)};
const port = Number(process.env.PORT);
const host = process.env.HOST ?? '127.0.0.1';
let marker = null;
try { marker = readFileSync('/srv/marker', 'utf8').trim(); } catch {}
const server = http.createServer((req, res) => {
  if (req.url === '/healthz') { res.end('ok'); return; }
  if (req.url.startsWith('/exit/')) { res.end('bye'); setTimeout(() => process.exit(Number(req.url.slice(6))), 20); return; }
  if (req.url === '/log') { console.log('stdout line from ' + process.env.MESHBOX_INSTANCE); console.error('stderr line from ' + process.env.MESHBOX_INSTANCE); res.end('logged'); return; }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ message: MESSAGE, instance: process.env.MESHBOX_INSTANCE, host: process.env.HOST, port, proxy: process.env.HTTP_PROXY ?? null, leak: process.env.LEAK_CHECK ?? null, user: process.env.USER_SETTING ?? null, cwd: process.cwd(), marker }));
});
server.listen(port, host, () => console.log('listening on ' + host + ':' + port));
process.on('SIGTERM', () => { console.log('SIGTERM: bye'); server.close(() => process.exit(0)); setTimeout(() => process.exit(0), 200).unref(); });
`;
}

export const BUILT_DOCKERFILE = `ARG MESHBOX_NODE_IMAGE
FROM \${MESHBOX_NODE_IMAGE}
COPY server.mjs /srv/server.mjs
WORKDIR /srv
RUN echo built-by-dockerfile > /srv/marker
CMD ["node", "server.mjs"]
`;

export interface DockerProject {
  dir: string;
  meshFile: string;
  webMain: string;
}

export function writeDockerProject(opts: { message?: string; withBuilt?: boolean; name?: string } = {}): DockerProject {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-docker-project-'));
  mkdirSync(path.join(dir, 'web'));
  // ES module syntax in a .js file: works only if the image gets {"type":"module"}
  writeFileSync(path.join(dir, 'package.json'), '{"name":"docker-project","private":true,"type":"module"}\n');
  const webMain = path.join(dir, 'web', 'main.js');
  writeFileSync(webMain, appSource(opts.message ?? 'hello from web'));
  let yaml = `name: ${opts.name ?? 'dockertest'}
services:
  web:
    port: 8080
    command: [node, web/main.js]
    health: /healthz
    env: { USER_SETTING: from-meshbox-yaml }
`;
  if (opts.withBuilt !== false) {
    mkdirSync(path.join(dir, 'built'));
    writeFileSync(path.join(dir, 'built', 'server.mjs'), appSource(`${opts.message ?? 'hello'} from built`));
    writeFileSync(path.join(dir, 'built', 'Dockerfile'), BUILT_DOCKERFILE);
    writeFileSync(path.join(dir, 'built', '.dockerignore'), 'Dockerfile.*\n*.log\n');
    yaml += `  built:
    port: 8080
    build: ./built
    health: /healthz
`;
  }
  const meshFile = path.join(dir, 'meshbox.yaml');
  writeFileSync(meshFile, yaml);
  return { dir, meshFile, webMain };
}

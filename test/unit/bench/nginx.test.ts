import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findNginx, nginxArgs, nginxConfig, parseNginxVersion, tempPathDirectives, versionAtLeast } from '../../bench/nginx.js';

const CONFIGURE = 'nginx version: nginx/1.22.1\nconfigure arguments: --with-cc-opt=-g --without-http_uwsgi_module --without-http_scgi_module';
const legs = [
  { name: 'gateway', listenPort: 1001, upstreamPort: 1002 },
  { name: 'caller_inbound', listenPort: 1002, upstreamPort: 1003 },
];

describe('nginx version and modules', () => {
  it('parses the version from -v / -V output', () => {
    expect(parseNginxVersion(CONFIGURE)).toBe('1.22.1');
    expect(parseNginxVersion('nginx version: nginx/1.25')).toBe('1.25');
    expect(parseNginxVersion('openresty')).toBeUndefined();
  });
  it('compares dotted versions', () => {
    expect(versionAtLeast('1.22.1', '1.19.5')).toBe(true);
    expect(versionAtLeast('1.19.5', '1.19.5')).toBe(true);
    expect(versionAtLeast('1.18.0', '1.19.5')).toBe(false);
    expect(versionAtLeast('2', '1.19.5')).toBe(true);
  });
  it('writes temp paths only for modules built in', () => {
    expect(tempPathDirectives(CONFIGURE)).toEqual(['client_body_temp_path', 'proxy_temp_path', 'fastcgi_temp_path']);
    expect(tempPathDirectives('')).toHaveLength(5);
  });
});

describe('nginxConfig', () => {
  const conf = nginxConfig({ prefix: '/tmp/bench/nginx/', legs, configure: CONFIGURE });

  it('runs one worker with everything under the prefix', () => {
    expect(conf).toMatch(/^worker_processes 1;$/m);
    expect(conf).toMatch(/^pid \/tmp\/bench\/nginx\/nginx\.pid;$/m);
    expect(conf).toMatch(/^error_log \/tmp\/bench\/nginx\/error\.log warn;$/m);
    expect(conf).toMatch(/^ {2}proxy_temp_path \/tmp\/bench\/nginx\/tmp\/proxy;$/m);
    expect(conf).not.toMatch(/uwsgi|scgi/);
    expect(conf).toMatch(/access_log off;/);
  });

  it('gives every leg a keep-alive upstream and a server block on loopback', () => {
    for (const leg of legs) {
      const upstream = new RegExp(`upstream ${leg.name} \\{\\n\\s+server 127\\.0\\.0\\.1:${leg.upstreamPort};\\n\\s+keepalive 128;`);
      expect(conf).toMatch(upstream);
      expect(conf).toContain(`listen 127.0.0.1:${leg.listenPort};`);
      expect(conf).toContain(`proxy_pass http://${leg.name};`);
    }
    expect(conf.match(/proxy_http_version 1\.1;/g)).toHaveLength(2);
    expect(conf.match(/proxy_set_header Connection "";/g)).toHaveLength(2);
    expect(conf.match(/proxy_set_header Host \$http_host;/g)).toHaveLength(2);
    expect(conf.split('{').length).toBe(conf.split('}').length);
  });

  it('refuses unsafe names, ports and prefixes', () => {
    expect(() => nginxConfig({ prefix: '/tmp/x', configure: '', legs: [{ name: 'a b', listenPort: 1, upstreamPort: 2 }] })).toThrow(/leg name/);
    expect(() => nginxConfig({ prefix: '/tmp/x', configure: '', legs: [{ name: 'a', listenPort: 70000, upstreamPort: 2 }] })).toThrow(/not a TCP port/);
    expect(() => nginxConfig({ prefix: 'relative', configure: '', legs })).toThrow(/absolute/);
    expect(() => nginxConfig({ prefix: '/tmp/a b', configure: '', legs })).toThrow(/absolute/);
    expect(() => nginxConfig({ prefix: '/tmp/x', configure: '', legs: [] })).toThrow(/at least one leg/);
  });

  it('runs nginx in the foreground with the error log under the prefix', () => {
    const info = { path: '/usr/sbin/nginx', version: '1.22.1', configure: CONFIGURE };
    expect(nginxArgs(info, '/p', '/p/nginx.conf')).toEqual(['-p', '/p', '-c', '/p/nginx.conf', '-e', '/p/error.log', '-g', 'daemon off;']);
    expect(nginxArgs({ ...info, version: '1.18.0' }, '/p', '/p/nginx.conf', true)).toEqual(['-p', '/p', '-c', '/p/nginx.conf', '-t', '-q']);
  });

  const nginx = findNginx();
  // .ci/run installs nginx-light; without CI a machine with no nginx skips this one check
  it.skipIf(!nginx && !process.env['CI'])('is accepted by the installed nginx (nginx -t)', () => {
    expect(nginx, 'nginx is not installed: apt-get install nginx-light (.ci/run does)').toBeDefined();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-nginx-test-'));
    try {
      mkdirSync(path.join(dir, 'tmp'));
      const confPath = path.join(dir, 'nginx.conf');
      writeFileSync(confPath, nginxConfig({ prefix: dir, legs, configure: nginx!.configure }));
      const run = spawnSync(nginx!.path, nginxArgs(nginx!, dir, confPath, true), { encoding: 'utf8', timeout: 10_000 });
      expect(`${run.stderr}`).toBe('');
      expect(run.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * A standalone proxy's connections count in Istio's TCP metrics on the sandbox's registry.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Toxiproxy } from 'toxiproxy-node-client';
import { startToxiproxyApi } from '../../../sandbox/toxiproxy-api/toxiproxy-api.js';
import type { ToxiproxyServer } from '../../../sandbox/toxiproxy-api/toxiproxy-server.js';

let api: ToxiproxyServer;
let upstream: net.Server;
const registry = new Registry();

beforeAll(async () => {
  // answers every chunk with twice its bytes, so sent and received differ
  upstream = net.createServer((s) => {
    s.on('data', (d) => s.write(Buffer.concat([d, d])));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  api = await startToxiproxyApi({ port: 0, seed: 3, inProcess: process.env.MESHBOX_TEST_WORKER !== '1', metrics: registry, namespace: 'default' });
});

afterAll(async () => {
  await api.close();
  await new Promise((r) => upstream.close(r));
});

function exchange(port: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    s.once('data', () => s.end());
    s.on('close', () => resolve());
    s.on('error', reject);
  });
}

async function value(name: string): Promise<number | undefined> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values as Array<{ value: number; labels: Record<string, string> }> | undefined)?.find((v) => v.labels['destination_service'] === 'redis')?.value;
}

it("counts connections and bytes under Istio's TCP metric names", async () => {
  const proxy = await new Toxiproxy(api.url).createProxy({ name: 'redis', listen: '127.0.0.1:0', upstream: `127.0.0.1:${(upstream.address() as AddressInfo).port}` });
  const port = Number(proxy.listen.split(':')[1]);
  await exchange(port, 'hello');
  await exchange(port, 'hi');
  // the worker reports a close once both sides are gone
  for (let i = 0; i < 50 && (await value('istio_tcp_connections_closed_total')) !== 2; i++) await new Promise((r) => setTimeout(r, 20));
  expect(await value('istio_tcp_connections_opened_total')).toBe(2);
  expect(await value('istio_tcp_connections_closed_total')).toBe(2);
  expect(await value('istio_tcp_received_bytes_total')).toBe(7);
  expect(await value('istio_tcp_sent_bytes_total')).toBe(14);
  const text = await registry.metrics();
  expect(text).toMatch(/istio_tcp_sent_bytes_total\{reporter="source",source_workload="unknown",.*destination_service="redis",.*request_protocol="tcp",response_flags="-",connection_security_policy="unknown"\} 14/);
});

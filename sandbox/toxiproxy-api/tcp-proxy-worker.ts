/**
 * Worker thread entry: the Toxiproxy API's standalone proxies, off the CLI's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { InProcessTcpProxyHost, runHostCommand, type HostCommand, type HostMessage } from './tcp-proxy-host.js';

const port = parentPort;
if (!port) throw new Error('tcp-proxy-worker must run in a worker thread');

const post = (m: HostMessage): void => port.postMessage(m);
const host = new InProcessTcpProxyHost((workerData as { seed: number }).seed, (record) => post({ type: 'connection', record }));

port.on('message', (msg: { id: number; command: HostCommand }) => {
  void (async () => {
    try {
      const data = await runHostCommand(host, msg.command);
      post({ id: msg.id, ok: true, data });
      if (msg.command.type === 'close') port.close();
    } catch (e) {
      post({ id: msg.id, ok: false, error: (e as Error).stack ?? String(e) });
    }
  })();
});

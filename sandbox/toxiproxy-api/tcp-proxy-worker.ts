/**
 * Worker thread entry: the Toxiproxy API's standalone proxies, off the CLI's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { InProcessTcpProxyHost, type HostCommand, type HostMessage } from './tcp-proxy-host.js';

const port = parentPort;
if (!port) throw new Error('tcp-proxy-worker must run in a worker thread');

const post = (m: HostMessage): void => port.postMessage(m);
const host = new InProcessTcpProxyHost((workerData as { seed: number }).seed, (record) => post({ type: 'connection', record }));

port.on('message', (msg: { id: number; command: HostCommand }) => {
  void (async () => {
    try {
      const c = msg.command;
      let data: unknown = true;
      if (c.type === 'start') data = await host.start(c.name, c.listen, c.upstream, c.toxics);
      else if (c.type === 'setToxics') await host.setToxics(c.name, c.toxics);
      else if (c.type === 'stop') await host.stop(c.name);
      else if (c.type === 'close') await host.close();
      post({ id: msg.id, ok: true, data });
      if (c.type === 'close') port.close();
    } catch (e) {
      post({ id: msg.id, ok: false, error: (e as Error).stack ?? String(e) });
    }
  })();
});

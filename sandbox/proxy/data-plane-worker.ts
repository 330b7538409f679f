/**
 * Worker thread entry: runs a DataPlaneCore off the CLI's event loop, so rendering never
 * stalls traffic and traffic never freezes the UI. The data plane runs one or several of these,
 * each owning whole proxies (./data-plane.ts); a worker also runs the Toxiproxy API's standalone
 * proxies placed on it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DataPlaneCore } from './data-plane-core.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
import { InProcessTcpProxyHost, runHostCommand } from '../toxiproxy-api/tcp-proxy-host.js';
import { WarmUpSite } from './warm-up-site.js';
import { threadMemory } from './thread-memory.js';
import { IdleTrimmer } from '../runtime/idle-trim.js';

const port = parentPort;
if (!port) throw new Error('data-plane-worker must run in a worker thread');

const init = workerData as WorkerInit;
const post = (m: FromWorker): void => port.postMessage(m);
// the heap V8 grew under load goes back once the worker is quiet (../runtime/idle-trim.ts)
const trim = new IdleTrimmer();
const core = new DataPlaneCore({
  seed: init.seed,
  limits: init.limits,
  emit: (events) => {
    trim.poke(events.length);
    post({ type: 'events', events });
  },
});
let tcp: InProcessTcpProxyHost | undefined;
let warm: WarmUpSite | undefined;
const standalone = (): InProcessTcpProxyHost => (tcp ??= new InProcessTcpProxyHost(init.seed, (record) => post({ type: 'tcp-connection', record })));

port.on('message', (msg: ToWorker) => {
  void (async () => {
    try {
      const c = msg.command;
      let data: unknown;
      if (c.type === 'bind') data = await core.bind(c.listeners);
      else if (c.type === 'stage') core.stageRoutes(c.slice);
      else if (c.type === 'apply-shipped') data = await core.applyShipped(c.shipped);
      else if (c.type === 'clusters') data = core.clustersJson();
      else if (c.type === 'secrets') core.setSecrets(c.secrets);
      else if (c.type === 'secrets-dump') data = core.secretsJson();
      else if (c.type === 'memory') data = threadMemory();
      else if (c.type === 'tcp-proxy') data = await runHostCommand(standalone(), c.command);
      else if (c.type === 'warm') {
        warm ??= new WarmUpSite(init.seed, init.limits);
        data = await warm.step(c.step);
        if (c.step.step === 'close') warm = undefined;
      }
      else if (c.type === 'stop') {
        await tcp?.close();
        await warm?.close();
        await core.stop(c.graceMs);
        trim.stop();
        data = true;
      }
      post({ type: 'reply', id: msg.id, ok: true, data });
      if (c.type === 'stop') port.close();
    } catch (e) {
      post({ type: 'reply', id: msg.id, ok: false, error: (e as Error).stack ?? String(e) });
    }
  })();
});

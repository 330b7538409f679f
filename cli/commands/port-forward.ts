/**
 * `meshbox port-forward <service> <localPort>`: opens 127.0.0.1:<localPort> on the running
 * sandbox's data plane, routed to the service the way a request from the ingress gateway's
 * workload would be (the mesh VirtualServices, DestinationRules, faults and retries of the
 * service apply; no Gateway resource needed), as `kubectl port-forward svc/...` is used with Istio.
 * It lives as long as the command runs: Ctrl-C (or the command dying) closes the listener.
 * `kubectl port-forward`'s `<localPort>:<remotePort>` form is accepted; the remote port picks
 * one of the service's ports (default: its first), served as that port's protocol (a TCP port
 * through the TCP proxy, with its `tcp[]` routes).
 */
import { MeshError } from '../../sandbox/errors.js';
import { adminStream, resolveAdmin } from '../admin-client.js';
import type { Io } from '../output.js';

export interface PortForwardOptions {
  admin?: string;
  /** stop after this long (ms) */
  durationMs?: number;
}

export function parsePorts(text: string): { local: number; remote?: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(text);
  const local = m ? Number(m[1]) : Number.NaN;
  const remote = m?.[2] ? Number(m[2]) : undefined;
  if (!m || local > 65535 || (remote !== undefined && (remote < 1 || remote > 65535))) {
    throw new MeshError('MESH_ERR_USAGE', [`"${text}" is not a local port`], { hint: 'pass a port 1-65535 (0 picks a free one), e.g. `meshbox port-forward callme-service 9090`' });
  }
  return { local, remote };
}

export async function runPortForward(serviceArg: string, portText: string, o: PortForwardOptions, io: Io): Promise<number> {
  const service = serviceArg.replace(/^(svc|service|services)\//, '');
  const { local, remote } = parsePorts(portText);
  const admin = resolveAdmin(o.admin);
  let ready: Record<string, unknown> | undefined;
  const stream = await adminStream(`${admin}/port-forwards`, 'POST', { service, port: local, ...(remote !== undefined ? { servicePort: remote } : {}) }, (line) => {
    if (line['type'] !== 'port-forward:ready') return;
    ready = line;
    if (remote !== undefined && remote !== line['servicePort']) {
      io.err(`warning: ${service} serves port ${String(line['servicePort'])}, not ${remote}; forwarding to ${String(line['servicePort'])}`);
    }
    io.out(`Forwarding from ${String(line['address'])}:${String(line['port'])} -> ${service}:${String(line['servicePort'])}`);
  });
  let stoppedByUs = false;
  const stop = (): void => {
    stoppedByUs = true;
    stream.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const timer = o.durationMs ? setTimeout(stop, o.durationMs) : undefined;
  await stream.done;
  if (timer) clearTimeout(timer);
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  if (!stoppedByUs) {
    io.err(`port-forward: the sandbox closed ${ready ? `${String(ready['address'])}:${String(ready['port'])}` : 'the port-forward'} (it stopped)`);
    return 1;
  }
  return 0;
}

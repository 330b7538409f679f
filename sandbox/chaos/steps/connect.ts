/**
 * `connect`: open TCP connections straight to the inbound listener of a workload's sidecars and
 * send one plaintext HTTP/1.1 request on each, as `curl http://127.0.0.1:<inbound port>/path`
 * would (no sidecar of the caller, no TLS). Each connection ends one way:
 *
 * - `answered`: a status line came back (checked against `expect.status`);
 * - `reset`: the listener reset the connection (a TCP RST; curl: exit 56, status 000), what a
 *   STRICT PeerAuthentication does to plaintext, as Envoy does when no filter chain matches;
 * - `closed`: the listener closed the connection (FIN) without an answer;
 * - `refused`: nothing listens on the port; `timeout`: nothing came back in time.
 *
 * The step targets every running instance of `inbound` (a service, a workload `<service>-<version>`
 * or an instance id), `count` connections each, and fails unless each ended as `expect.connection`
 * says (default `answered`).
 */
import net from 'node:net';
import { int, obj, oneOfValues, str } from '../../config/schemas/json-schema.js';
import { scenarioFinding } from '../scenario-codes.js';
import type { InstanceView } from '../scenario-target.js';
import type { StepSpec } from '../scenario-types.js';
import { durationField } from '../schema-parts.js';
import { formatValue, toMs } from '../tolerance.js';
import { describeStatus, statusAccepted, statusTolerance, type StatusTolerance } from './probe.js';
import type { StepType } from './step-type.js';

export const CONNECTION_OUTCOMES = ['answered', 'reset', 'closed', 'refused', 'timeout'] as const;
export type ConnectionOutcome = (typeof CONNECTION_OUTCOMES)[number];
const EXPECTABLE = ['answered', 'reset', 'closed'] as const;

export interface ConnectConfig extends StepSpec {
  inbound: string;
  path?: string;
  host?: string;
  count?: number;
  timeout?: string;
  expect?: { connection?: (typeof EXPECTABLE)[number]; status?: StatusTolerance };
}

export interface ConnectionResult {
  outcome: ConnectionOutcome;
  /** the answer's status (`answered` only) */
  status?: number;
  /** the socket error code (`reset`, `refused`) */
  code?: string;
  latencyMs: number;
}

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE']);

/** One connection to 127.0.0.1:`port` with one plaintext request; how it ended. */
export function plaintextRequest(port: number, opts: { path: string; host: string; timeoutMs: number }): Promise<ConnectionResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let received = '';
    let done = false;
    const socket = net.connect({ host: '127.0.0.1', port });
    const finish = (r: Omit<ConnectionResult, 'latencyMs'>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...r, latencyMs: performance.now() - started });
    };
    const timer = setTimeout(() => finish({ outcome: 'timeout' }), opts.timeoutMs);
    socket.setNoDelay(true);
    socket.on('connect', () => {
      socket.write(`GET ${opts.path} HTTP/1.1\r\nHost: ${opts.host}\r\nUser-Agent: meshbox-scenario\r\nAccept: */*\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const line = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(received);
      if (line) finish({ outcome: 'answered', status: Number(line[1]) });
      else if (received.includes('\r\n')) finish({ outcome: 'closed', code: 'not an HTTP answer' });
    });
    socket.on('end', () => finish({ outcome: 'closed' }));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      const code = e.code ?? e.message;
      finish({ outcome: e.code === 'ECONNREFUSED' ? 'refused' : RESET_CODES.has(code) ? 'reset' : 'closed', code });
    });
  });
}

function describeResult(r: ConnectionResult): string {
  if (r.outcome === 'answered') return `answered ${r.status}`;
  return r.code ? `${r.outcome} (${r.code})` : r.outcome;
}

function select(instances: readonly InstanceView[], wanted: string): InstanceView[] {
  const byId = instances.filter((i) => i.id === wanted);
  const matching = byId.length ? byId : instances.filter((i) => i.workload === wanted || i.service === wanted);
  return matching.filter((i) => i.state === 'running').sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
}

export const connect: StepType<ConnectConfig> = {
  type: 'connect',
  summary: "Plaintext HTTP straight to a sidecar's inbound listener (as curl to the inbound port): expect the connection answered, reset (STRICT mTLS) or closed.",
  properties: {
    inbound: str('Whose inbound listeners: a service (`callme-service`), a workload (`callme-service-v1`) or an instance (`callme-service-v1-1`); every running instance of it.', { minLength: 1 }),
    path: str('Request path (default `/`).', { pattern: '^/' }),
    host: str('Host header (default: the service name).'),
    count: int('Connections per instance (default 1).', 1, 1000),
    timeout: durationField('How long to wait for each connection to end (default 5s).'),
    expect: obj('ConnectExpect', 'How every connection must end (default: answered, status 200-399).', {
      connection: oneOfValues(EXPECTABLE, '`answered` (a status line came back), `reset` (TCP RST, as a STRICT PeerAuthentication does to plaintext; curl exit 56) or `closed` (FIN without an answer).'),
      status: { ...statusTolerance, description: 'With `connection: answered`: the status, exact (`200`), a class (`2xx`) or inclusive bounds (`[200, 299]`).' },
    }),
  },
  required: ['inbound'],
  check(config, ctx) {
    const c = config.expect?.connection;
    if (c === undefined || c === 'answered' || config.expect?.status === undefined) return [];
    return [scenarioFinding('INVALID_VALUE', `expect.status does not apply to a connection expected ${c}: it gets no answer`, ctx.at(['expect', 'status'], { key: true }), 'remove `status`, or expect `connection: answered`')];
  },
  title: (c) => `connect ${c.count && c.count > 1 ? `${c.count}x ` : ''}plaintext to the inbound of ${c.inbound} ${c.path ?? '/'}, expect ${c.expect?.connection ?? 'answered'}`,
  async run(config, ctx) {
    const all = await ctx.target.instances();
    const chosen = select(all, config.inbound);
    if (chosen.length === 0) throw new Error(`no running instance of ${config.inbound} (instances: ${all.map((i) => `${i.id} ${i.state}`).join(', ')})`);
    const unknown = chosen.filter((i) => i.inboundPort === undefined);
    if (unknown.length) throw new Error(`the inbound port of ${unknown.map((i) => i.id).join(', ')} is not known (a sandbox older than this meshbox?)`);
    const wanted = config.expect?.connection ?? 'answered';
    const status: StatusTolerance = config.expect?.status ?? [200, 399];
    const timeoutMs = config.timeout !== undefined ? toMs(config.timeout) : 5000;
    const path = config.path ?? '/';
    const count = config.count ?? 1;
    const results: Array<ConnectionResult & { instance: string; port: number }> = [];
    const problems: string[] = [];
    for (const inst of chosen) {
      for (let n = 0; n < count && !ctx.signal.aborted; n++) {
        const r = await plaintextRequest(inst.inboundPort!, { path, host: config.host ?? inst.service, timeoutMs });
        results.push({ ...r, instance: inst.id, port: inst.inboundPort! });
        const ok = r.outcome === wanted && (wanted !== 'answered' || statusAccepted(r.status!, status));
        if (!ok) problems.push(`${inst.id} :${inst.inboundPort} #${n + 1}: ${describeResult(r)}`);
      }
    }
    const expected = wanted === 'answered' ? `answered ${describeStatus(status)}` : wanted;
    const where = chosen.map((i) => `${i.id} :${i.inboundPort}`).join(', ');
    const data = { expected, connections: results.map((r) => ({ instance: r.instance, port: r.port, outcome: r.outcome, ...(r.status !== undefined ? { status: r.status } : {}), ...(r.code ? { code: r.code } : {}), latencyMs: Math.round(r.latencyMs * 10) / 10 })) };
    const total = chosen.length * count;
    if (problems.length === 0 && results.length === total) {
      const slowest = Math.max(...results.map((r) => r.latencyMs));
      return { summary: `plaintext to the inbound of ${where}: ${results.length} of ${total} connections ${expected}, slowest ${formatValue(slowest, 'ms')}`, data };
    }
    const shown = problems.slice(0, 3).join('; ') + (problems.length > 3 ? `; ${problems.length - 3} more` : '');
    return { summary: `plaintext to the inbound of ${where}: expected every connection ${expected}, but ${problems.length} of ${results.length} were not: ${shown}`, failed: true, data };
  },
};

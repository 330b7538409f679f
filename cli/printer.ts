/**
 * Plain-line output of the event stream (headless mode, and whenever stdout is not a TTY), so
 * `meshbox up | grep` and CI logs work. Requests print once per hop, from the calling proxy
 * (reporter=source), like `linkerd tap`.
 */
import { grpcStatusName } from '../sandbox/proxy/grpc/grpc-status.js';
import type { MeshEvent, RequestEvent, TcpConnectionEvent } from '../sandbox/events.js';
import { formatFinding } from '../sandbox/config/findings.js';
import { paint, type Color, type Io } from './output.js';
import { matchedRoute } from './tui/format.js';

const PREFIX_COLORS: Color[] = ['cyan', 'magenta', 'blue', 'yellow', 'green'];

function time(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

export interface PrinterOptions {
  color: boolean;
  /** print destination-side request lines too */
  bothReporters?: boolean;
  /** print app log lines */
  logs?: boolean;
}

export class EventPrinter {
  private readonly c: ReturnType<typeof paint>;
  private readonly prefixColor = new Map<string, Color>();

  constructor(
    private readonly io: Io,
    private readonly opts: PrinterOptions,
  ) {
    this.c = paint(opts.color);
  }

  private colorFor(instance: string): Color {
    let col = this.prefixColor.get(instance);
    if (!col) {
      col = PREFIX_COLORS[this.prefixColor.size % PREFIX_COLORS.length]!;
      this.prefixColor.set(instance, col);
    }
    return col;
  }

  request(e: RequestEvent): string {
    const c = this.c;
    const dst = e.destination.workload !== 'unknown' ? (e.endpoint ?? e.destination.workload) : e.destination.serviceName;
    const statusColor: Color = e.status >= 500 || e.status === 0 ? 'red' : e.status >= 400 ? 'yellow' : 'green';
    const flags = e.responseFlags !== '-' ? ` ${c('red', e.responseFlags)}` : '';
    const attempts = e.attempts > 1 ? ` attempts=${e.attempts}` : '';
    const side = e.reporter === 'destination' ? ' (inbound)' : '';
    // gRPC: the status travels in grpc-status (the HTTP status of a gRPC failure is 200)
    const grpc = e.grpc?.status !== undefined ? ` ${c(e.grpc.status === 0 ? 'green' : 'red', `grpc=${grpcStatusName(e.grpc.status)}`)}` : '';
    return (
      `${c('gray', time(e.startTime))} ${e.proxy} -> ${dst}${side}  ${e.method} ${e.authority}${e.path}  ` +
      `${c(statusColor, String(e.status))}${grpc} ${Math.round(e.durationMs)}ms${flags}${attempts} route=${matchedRoute(e.why, e.routeName)}`
    );
  }

  /** one TCP connection, when it closed: who to whom, bytes each way, how long, flags */
  tcp(e: TcpConnectionEvent): string {
    const c = this.c;
    const dst = e.destination.workload !== 'unknown' ? (e.endpoint ?? e.destination.workload) : e.destination.serviceName;
    const flags = e.responseFlags !== '-' ? ` ${c('red', e.responseFlags)}` : '';
    const side = e.reporter === 'destination' ? ' (inbound)' : '';
    return `${c('gray', time(e.startTime))} ${e.proxy} -> ${dst}${side}  TCP ${e.bytesReceived}B out ${e.bytesSent}B back  ${Math.round(e.durationMs)}ms${flags}${e.routeName ? ` route=${e.routeName}` : ''}`;
  }

  print(e: MeshEvent): void {
    const c = this.c;
    switch (e.type) {
      case 'mesh:request:end':
        if (e.reporter === 'source' || this.opts.bothReporters) this.io.out(this.request(e));
        return;
      case 'mesh:tcp:close':
        if (e.reporter === 'source' || this.opts.bothReporters) this.io.out(this.tcp(e));
        return;
      case 'mesh:tcp:open':
        return;
      case 'mesh:workload:log':
        if (this.opts.logs === false) return;
        this.io.out(`${c(this.colorFor(e.instance), `${e.instance} |`)} ${e.line}`);
        return;
      case 'mesh:workload:starting':
        this.io.out(`${c('gray', time(e.time))} ${e.instance} starting on port ${e.port}`);
        return;
      case 'mesh:workload:started':
        this.io.out(`${c('gray', time(e.time))} ${e.instance} started (pid ${e.pid})`);
        return;
      case 'mesh:workload:healthy':
        this.io.out(`${c('gray', time(e.time))} ${e.instance} ${c('green', 'healthy')}`);
        return;
      case 'mesh:workload:unhealthy':
        this.io.out(`${c('gray', time(e.time))} ${e.instance} ${c('yellow', 'unhealthy')}${e.reason ? `: ${e.reason}` : ''}`);
        return;
      case 'mesh:workload:exited':
        this.io.out(`${c('gray', time(e.time))} ${e.instance} ${c('red', 'exited')} (${e.signal ? `signal ${e.signal}` : `code ${e.exitCode}`})`);
        return;
      case 'mesh:workload:restarting':
        this.io.out(`${c('gray', time(e.time))} ${e.instance} restarting in ${(e.delayMs ?? 0) / 1000}s (${e.reason})`);
        return;
      case 'mesh:workload:stopped':
        this.io.out(`${c('gray', time(e.time))} ${e.instance} stopped`);
        return;
      case 'mesh:config:applied': {
        const what = e.changed.length ? `: ${e.changed.join(', ')}` : '';
        this.io.out(`${c('gray', time(e.time))} config v${e.version} applied${what}`);
        for (const w of e.warnings) this.io.out(c('yellow', formatFinding(w)));
        return;
      }
      case 'mesh:config:rejected':
        this.io.out(`${c('gray', time(e.time))} ${c('red', 'rules rejected')}: the data plane keeps its last good configuration`);
        for (const f of e.findings) this.io.out(c('red', formatFinding(f)));
        return;
      case 'mesh:listener:ready':
        return;
      case 'mesh:notice': {
        const col: Color = e.level === 'error' ? 'red' : e.level === 'warn' ? 'yellow' : 'gray';
        this.io.out(`${c('gray', time(e.time))} ${c(col, e.message)}${e.hint ? `\n  hint: ${e.hint}` : ''}`);
        return;
      }
      case 'mesh:fault:added':
        this.io.out(`${c('gray', time(e.time))} ${c('magenta', `fault ${e.name} added`)}: ${e.summary}`);
        return;
      case 'mesh:fault:removed':
        this.io.out(`${c('gray', time(e.time))} fault ${e.name} removed (${e.reason ?? 'deleted'})`);
        return;
      case 'mesh:outlier:ejected':
        this.io.out(`${c('gray', time(e.time))} ${c('yellow', `${e.endpoint} ejected`)} by ${e.proxy ?? '?'} from ${e.cluster} for ${((e.ejectionMs ?? 0) / 1000).toFixed(1)}s: ${e.reason}`);
        return;
      case 'mesh:outlier:returned':
        this.io.out(`${c('gray', time(e.time))} ${e.endpoint} back in ${e.proxy ?? '?'}'s ${e.cluster}`);
        return;
      case 'mesh:request:upgraded':
        // the stream opened; its request line comes when it closes (status 101)
        if (e.reporter === 'source' || this.opts.bothReporters) {
          this.io.out(`${c('gray', time(e.time))} ${e.proxy} -> ${e.endpoint ?? e.destination.serviceName}  ${e.method} ${e.authority}${e.path}  ${c('green', '101')} ${e.upgrade} open`);
        }
        return;
      default:
        this.io.out(`${c('gray', time(e.time))} ${c('bold', e.message)}`);
    }
  }
}

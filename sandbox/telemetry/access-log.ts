/**
 * Access log in Istio's default TEXT format (`meshConfig.accessLogFile`), one file per proxy as
 * `kubectl logs <pod> -c istio-proxy` would show it: `<dir>/<proxy>.log`.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { RequestEvent, TcpConnectionEvent } from '../events.js';

const dash = (v: string | number | undefined): string => (v === undefined || v === '' ? '-' : String(v));

/**
 * [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
 * %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
 * "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
 * %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
 * "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER%
 * %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
 * %REQUESTED_SERVER_NAME% %ROUTE_NAME%
 */
export function formatAccessLog(e: RequestEvent): string {
  return (
    `[${new Date(e.startTime).toISOString()}] "${e.method} ${e.path} ${e.protocol}" ${e.status} ${e.responseFlags} ` +
    `${e.responseCodeDetails} - "${dash(e.upstreamTransportFailureReason)}" ${e.bytesReceived} ${e.bytesSent} ` +
    `${Math.round(e.durationMs)} ${dash(e.upstreamServiceTimeMs)} "${e.forwardedFor}" "${e.userAgent}" "${e.requestId}" ` +
    `"${e.authority || '-'}" "${dash(e.upstreamHost)}" ${dash(e.upstreamCluster)} - ${e.downstreamLocalAddress} ` +
    `${e.downstreamRemoteAddress} - ${dash(e.routeName)}`
  );
}

/**
 * A TCP connection in the same format, as Envoy prints it for tcp_proxy: the HTTP fields are `-`
 * (`"- - -"`, response code 0), then the flags, the bytes each way, the duration, the upstream
 * host and cluster, the addresses and the SNI:
 *
 *   [2024-05-02T10:00:00.000Z] "- - -" 0 - - - "-" 6 11 1003 - "-" "-" "-" "-" "127.0.0.1:41234"
 *   outbound|9000|v1|tcp-echo.default.svc.cluster.local 127.0.0.1:52130 127.0.0.1:41200 127.0.0.1:37510 - -
 */
export function formatTcpAccessLog(e: TcpConnectionEvent): string {
  return (
    `[${new Date(e.startTime).toISOString()}] "- - -" 0 ${e.responseFlags} - ${dash(e.connectionTerminationDetails)} "${dash(e.upstreamTransportFailureReason)}" ` +
    `${e.bytesReceived} ${e.bytesSent} ${Math.round(e.durationMs)} - "-" "-" "-" "-" "${dash(e.upstreamHost)}" ${dash(e.upstreamCluster)} ` +
    `${dash(e.upstreamLocalAddress)} ${e.downstreamLocalAddress} ${e.downstreamRemoteAddress} ${dash(e.requestedServerName)} -`
  );
}

/** Lines are buffered per proxy and written in one go every FLUSH_MS (one write, not one per line). */
const FLUSH_MS = 100;

export class AccessLogWriter {
  private readonly streams = new Map<string, WriteStream>();
  private readonly pending = new Map<string, string[]>();
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  write(e: RequestEvent): void {
    this.line(e.proxy, formatAccessLog(e));
  }

  /** a TCP connection's line, when it closed */
  writeTcp(e: TcpConnectionEvent): void {
    this.line(e.proxy, formatTcpAccessLog(e));
  }

  private line(proxy: string, text: string): void {
    let lines = this.pending.get(proxy);
    if (!lines) this.pending.set(proxy, (lines = []));
    lines.push(text);
    this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const [proxy, lines] of this.pending) {
      if (lines.length === 0) continue;
      let s = this.streams.get(proxy);
      if (!s) {
        s = createWriteStream(path.join(this.dir, `${proxy}.log`), { flags: 'a' });
        s.on('error', () => undefined);
        this.streams.set(proxy, s);
      }
      s.write(`${lines.join('\n')}\n`);
    }
    this.pending.clear();
  }

  close(): Promise<void> {
    this.flush();
    const all = [...this.streams.values()];
    this.streams.clear();
    return Promise.all(all.map((s) => new Promise<void>((r) => s.end(r)))).then(() => undefined);
  }
}

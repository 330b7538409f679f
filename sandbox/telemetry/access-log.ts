/**
 * Access log in Istio's default TEXT format (`meshConfig.accessLogFile`), one file per proxy as
 * `kubectl logs <pod> -c istio-proxy` would show it: `<dir>/<proxy>.log`.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { RequestEvent } from '../events.js';

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

export class AccessLogWriter {
  private readonly streams = new Map<string, WriteStream>();

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  write(e: RequestEvent): void {
    let s = this.streams.get(e.proxy);
    if (!s) {
      s = createWriteStream(path.join(this.dir, `${e.proxy}.log`), { flags: 'a' });
      s.on('error', () => undefined);
      this.streams.set(e.proxy, s);
    }
    s.write(`${formatAccessLog(e)}\n`);
  }

  close(): Promise<void> {
    const all = [...this.streams.values()];
    this.streams.clear();
    return Promise.all(all.map((s) => new Promise<void>((r) => s.end(r)))).then(() => undefined);
  }
}

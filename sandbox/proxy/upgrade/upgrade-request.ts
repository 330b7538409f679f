/**
 * An HTTP/1.1 upgrade request (`Connection: upgrade` + `Upgrade: <protocol>`) as the HTTP
 * connection manager sees it, and what Envoy's HCM decides before the router runs.
 *
 * Istio configures `upgrade_configs: [{upgrade_type: websocket}]` on every HTTP connection
 * manager it generates (sidecar inbound and outbound, gateways), so a WebSocket upgrade is routed
 * like any request and its stream proxied; any other upgrade type that reaches a route is
 * answered by the HCM with 403, an empty body, details `upgrade_failed`, and the connection
 * closes (Envoy refuses further requests on a connection whose upgrade was not accepted, against
 * request smuggling in the upgrade payload). `Upgrade: h2c` never gets here: Envoy's HTTP/1 codec
 * strips it and serves the request as plain HTTP/1.1 (./h2c.ts).
 *
 * Node hands an upgrade request over with its raw socket and no response object; the connection
 * manager gets a ServerResponse bound to that socket (`downstreamResponse`) so local replies,
 * filters and a refusing upstream's answer are written as for any request. Such a reply always
 * says `Connection: close`, and the connection then closes as Envoy's delayed close does: the
 * socket left the HTTP codec, so no further request can be read on it.
 */
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { UpgradeEvent } from '../../events.js';
import { lingeringClose } from '../listener.js';
import type { LocalReply } from '../local-reply.js';
import type { RequestContext } from '../request-context.js';

/** the upgrade types Istio's HCMs accept (`upgrade_configs`), lower case */
export const UPGRADE_CONFIGS: readonly string[] = ['websocket'];

export interface UpgradeRequest {
  /** the request's `Upgrade` value as sent (`websocket`) */
  protocol: string;
  /** bytes the client sent after the request head: the start of the upgraded stream */
  head: Buffer;
  /** the client's connection, handed over by Node's HTTP server */
  socket: Socket;
  /** the upstream's 101 went to the client: the stream is open (or was) */
  switched: boolean;
  /** tells the event stream that the stream opened */
  announce(e: UpgradeEvent): void;
}

/** Envoy's HCM reply to an upgrade type not in `upgrade_configs` */
export const upgradeFailed = (): LocalReply => ({ status: 403, body: '', details: 'upgrade_failed' });

/** the `Upgrade` header's value */
export function upgradeProtocolOf(req: IncomingMessage): string {
  const v = req.headers.upgrade;
  return (Array.isArray(v) ? v.join(', ') : (v ?? '')).trim();
}

export function upgradeAllowed(protocol: string): boolean {
  return UPGRADE_CONFIGS.includes(protocol.toLowerCase());
}

/**
 * A ServerResponse on the socket Node handed over with an upgrade request: what the proxy
 * answers instead of a 101 (a local reply, a refusing upstream's response) goes through it, with
 * `Connection: close`; once it is written the connection closes (lingering for `delayedCloseMs`,
 * so the client reads the reply). Before the switch the socket's idle timeout reaches the
 * response as on any request (stream_idle_timeout).
 */
export function downstreamResponse(req: IncomingMessage, socket: Socket, delayedCloseMs: number): ServerResponse {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket);
  // Node's server no longer listens on a socket it handed over: a reset must not crash the worker
  socket.on('error', () => socket.destroy());
  const onTimeout = (): void => {
    res.emit('timeout');
  };
  socket.on('timeout', onTimeout);
  res.once('finish', () => lingeringClose(socket, delayedCloseMs));
  // the switch: the upgraded stream owns the socket from here on (./upgraded-stream.ts)
  res.once('upgraded', () => socket.off('timeout', onTimeout));
  return res;
}

/**
 * After the switch the socket belongs to the upgraded stream, not to the response; the response
 * closes (its `close` ends the request: the event is emitted) when the stream has closed.
 */
export function detachResponse(res: ServerResponse): void {
  res.emit('upgraded');
  if (res.socket) res.detachSocket(res.socket);
}

/** the response's `close`, once: what Node emits when a response's socket closes */
export function closeResponse(res: ServerResponse): void {
  const r = res as ServerResponse & { _closed?: boolean; destroyed: boolean };
  if (r._closed) return;
  r._closed = true;
  r.destroyed = true;
  res.emit('close');
}

/**
 * Envoy's HCM: an upgrade type no `upgrade_configs` entry allows gets 403 `upgrade_failed` once a
 * route was found (no route is the router's 404 first). True when it answered.
 */
export function refuseUpgrade(ctx: RequestContext): boolean {
  const up = ctx.upgrade;
  if (!up || upgradeAllowed(up.protocol)) return false;
  ctx.why.push(`Upgrade: ${up.protocol} is not allowed: Istio enables only ${UPGRADE_CONFIGS.join(', ')} upgrades (upgrade_configs), so Envoy answers 403 upgrade_failed and closes the connection`);
  ctx.sendLocalReply(upgradeFailed());
  return true;
}

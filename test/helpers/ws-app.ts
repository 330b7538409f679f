/**
 * WebSocket for the fake workloads (test/helpers/fake-app.ts), with the `ws` package: the app's
 * HTTP server accepts upgrades and echoes every message as `<instance>:<message>`.
 *   /refuse/<code>   answers the upgrade with that status instead of a 101 (body `refused <code>`)
 *   /close-after/<n> closes the socket (FIN) after echoing n messages
 *   /reset-after/<n> resets the socket after echoing n messages
 * Every upgrade request is recorded (headers), and every WebSocket closed by the client is counted
 * in `closedByClient`, so a test can see that a close reached the app.
 */
import type http from 'node:http';
import type { Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { FakeApp } from './fake-app.js';

export interface WsApp {
  upgrades: Array<{ url: string; headers: http.IncomingHttpHeaders }>;
  /** sockets open now */
  open: Set<WebSocket>;
  /** close frames received from a client, and connections that ended under the app */
  closes: Array<{ url: string; code: number }>;
}

export function acceptWebSockets(app: FakeApp): WsApp {
  const wss = new WebSocketServer({ noServer: true });
  const state: WsApp = { upgrades: [], open: new Set(), closes: [] };
  const sockets = new Set<Socket>();
  app.server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    const url = req.url ?? '/';
    state.upgrades.push({ url, headers: req.headers });
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const refuse = /^\/refuse\/(\d+)/.exec(url);
    if (refuse) {
      const body = `refused ${refuse[1]}`;
      socket.end(`HTTP/1.1 ${refuse[1]} Refused\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\nx-instance: ${app.instance}\r\nconnection: close\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      state.open.add(ws);
      let echoed = 0;
      const closeAfter = /^\/close-after\/(\d+)/.exec(url);
      const resetAfter = /^\/reset-after\/(\d+)/.exec(url);
      ws.on('message', (data, isBinary) => {
        ws.send(isBinary ? data : `${app.instance}:${String(data)}`, () => {
          echoed++;
          if (closeAfter && echoed >= Number(closeAfter[1])) socket.end();
          // (a reset in the write callback can leave as a FIN while the echo is still in the kernel's queue)
          if (resetAfter && echoed >= Number(resetAfter[1])) setTimeout(() => socket.resetAndDestroy(), 20);
        });
      });
      ws.on('close', (code) => {
        state.open.delete(ws);
        state.closes.push({ url, code });
      });
      ws.on('error', () => undefined);
    });
  });
  const close = app.close.bind(app);
  app.close = async () => {
    for (const s of sockets) s.destroy();
    wss.close();
    await close();
  };
  return state;
}

/** opens a WebSocket to `port` (a sidecar's outbound listener or the ingress) with Host `host` */
export function connectWs(port: number, host: string, path: string, headers: Record<string, string> = {}): WebSocket {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers: { host, ...headers }, perMessageDeflate: false });
  ws.on('error', () => undefined);
  return ws;
}

export type Opened = { ok: true; ws: WebSocket; headers: http.IncomingHttpHeaders } | { ok: false; status: number; headers: http.IncomingHttpHeaders; body: string } | { ok: false; status: 0; error: string };

/** waits for the handshake: open (with the 101's headers), or the response that refused it */
export function opened(ws: WebSocket): Promise<Opened> {
  return new Promise((resolve) => {
    let headers: http.IncomingHttpHeaders = {};
    ws.once('upgrade', (res: http.IncomingMessage) => (headers = res.headers));
    ws.once('open', () => resolve({ ok: true, ws, headers }));
    ws.once('unexpected-response', (_req: http.ClientRequest, res: http.IncomingMessage) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ ok: false, status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', () => resolve({ ok: false, status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    ws.once('error', (err: Error) => resolve({ ok: false, status: 0, error: err.message }));
  });
}

/** sends `text` and resolves with the next message */
export function echo(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const onClose = (): void => reject(new Error('closed before the echo'));
    ws.once('close', onClose);
    ws.once('message', (data) => {
      ws.off('close', onClose);
      resolve(String(data));
    });
    ws.send(text);
  });
}

/** resolves when the socket closed, with the close code */
export function closed(ws: WebSocket): Promise<number> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve(1006);
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
}

/**
 * A free TCP port on loopback, for tests that must pass a port to a child process (servers in the
 * test's own process should listen on port 0 instead).
 *
 * The port is found by listening on port 0 and closing again, so another process could take it
 * in between; ports handed out by this process are not handed out twice, which keeps tests that
 * ask for several ports in a row from getting the same one.
 */
import net from 'node:net';

const handedOut = new Set<number>();

export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await listenOnce(host);
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port found on ${host} after 20 attempts`);
}

function listenOnce(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('listening on port 0 gave no port'))));
    });
  });
}

/**
 * Entry point of the watchdog process (see watchdog.ts): `node watchdog-main.js <sandbox id>`.
 * Waits for end-of-file on stdin, then removes the sandbox's containers and exits.
 */
import { connectDocker, dockerEndpoint } from './daemon.js';
import { removeSandboxContainers } from './leftovers.js';

const sandboxId = process.argv[2];
if (!sandboxId) {
  process.stderr.write('usage: watchdog-main.js <sandbox id>\n');
  process.exit(64);
}

// the terminal's signals are meshbox's business; the watchdog only stops by sweeping
for (const sig of ['SIGINT', 'SIGHUP', 'SIGQUIT'] as const) process.on(sig, () => undefined);

const docker = connectDocker(dockerEndpoint());
let sweeping = false;

async function sweep(): Promise<void> {
  if (sweeping) return;
  sweeping = true;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await removeSandboxContainers(await docker, sandboxId!);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  process.exit(0);
}

process.stdin.on('end', () => void sweep());
process.stdin.on('close', () => void sweep());
process.stdin.on('error', () => void sweep());
process.on('SIGTERM', () => void sweep());
process.stdin.resume();

/**
 * Entry point of the process watchdog (see process-watchdog.ts):
 * `node process-watchdog-main.js <sandbox record file>`.
 */
import { rmSync } from 'node:fs';
import { isAlive, killRecordedProcesses, readRecord } from './sandbox-state.js';

const recordFile = process.argv[2];
if (!recordFile) {
  process.stderr.write('usage: process-watchdog-main.js <sandbox record file>\n');
  process.exit(64);
}

// the terminal's signals are meshbox's business; the watchdog only stops by sweeping
for (const sig of ['SIGINT', 'SIGHUP', 'SIGQUIT'] as const) process.on(sig, () => undefined);

let swept = false;
async function sweep(): Promise<void> {
  if (swept) return;
  swept = true;
  // the pipe closes as meshbox dies: give the kernel a moment to finish with it (up to 5 s)
  for (let i = 0; i < 50; i++) {
    const rec = readRecord(recordFile!);
    // a clean down removed the record first: nothing to do
    if (!rec) break;
    if (!isAlive(rec.ownerPid)) {
      killRecordedProcesses(rec);
      rmSync(recordFile!.replace(/\.json$/, '.token'), { force: true }); // its admin token
      rmSync(recordFile!, { force: true });
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  process.exit(0);
}

const onEnd = (): void => void sweep();
process.stdin.on('end', onEnd);
process.stdin.on('close', onEnd);
process.stdin.on('error', onEnd);
process.on('SIGTERM', onEnd);
process.stdin.resume();

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
function sweep(): void {
  if (swept) return;
  swept = true;
  const rec = readRecord(recordFile!);
  // a clean down removed the record; a live owner (pipe closed some other way) keeps its processes
  if (rec && !isAlive(rec.ownerPid)) {
    killRecordedProcesses(rec);
    rmSync(recordFile!, { force: true });
  }
  process.exit(0);
}

process.stdin.on('end', sweep);
process.stdin.on('close', sweep);
process.stdin.on('error', sweep);
process.on('SIGTERM', sweep);
process.stdin.resume();

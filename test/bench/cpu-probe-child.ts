/**
 * The CPU speed probe's worker process: spins on integer arithmetic for the given number of ms
 * (after a short JIT warm-up) and prints `{"opsPerMs":N}`. The parent runs one per core, pinned
 * with taskset; see cpu-probe.ts.
 */
const ms = Math.min(5000, Math.max(50, Number(process.argv[2] ?? 500) || 500));

function spin(untilMs: number): number {
  let x = 0x9e3779b9;
  let ops = 0;
  while (performance.now() < untilMs) {
    for (let i = 0; i < 20_000; i++) {
      x = Math.imul(x ^ (x >>> 15), 0x85ebca6b) + i;
      x ^= x >>> 13;
    }
    ops += 20_000;
  }
  // keep x alive so the loop cannot be dropped
  if (x === 42) process.stdout.write('');
  return ops;
}

spin(performance.now() + 50);
const start = performance.now();
const ops = spin(start + ms);
const elapsed = performance.now() - start;
process.stdout.write(`${JSON.stringify({ opsPerMs: Math.round(ops / elapsed) })}\n`);

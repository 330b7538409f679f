import { defineConfig } from 'vitest/config';

// Unit tests run in parallel; integration, e2e and TUI tests start real processes and listen on
// real sockets, so they run one file at a time to keep timing on a 2-core machine honest.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/tui/**/*.test.{ts,tsx}', 'test/e2e/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
          // every sandbox a test starts would warm its data plane before ready (~1-2 s each):
          // off unless asked for; test/integration/data-plane-warm-up.test.ts turns it on
          env: { MESHBOX_DATA_PLANE_WARMUP: process.env.MESHBOX_DATA_PLANE_WARMUP ?? '0' },
        },
      },
    ],
  },
});

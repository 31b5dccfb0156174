import { defineConfig } from 'vitest/config';

// One runner, tiers chosen by file suffix (see README "Tests").
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{packages,apps,agents}/*/src/**/*.test.ts', 'native/src/**/*.test.ts'],
          exclude: [
            '**/*.integration.test.ts',
            '**/*.privileged.test.ts',
            '**/node_modules/**',
            '**/dist/**',
          ],
        },
      },
      {
        test: {
          name: 'integration',
          include: [
            '{packages,apps,agents}/*/src/**/*.integration.test.ts',
            'native/src/**/*.integration.test.ts',
          ],
          fileParallelism: false,
          testTimeout: 30_000,
        },
      },
      {
        // Root only: real containerd, runc, BPF. CI runs as root.
        test: {
          name: 'privileged',
          include: [
            '{packages,apps,agents}/*/src/**/*.privileged.test.ts',
            'native/src/**/*.privileged.test.ts',
          ],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'system',
          include: ['test/system/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});

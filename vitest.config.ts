import { defineConfig } from 'vitest/config';
import { sharedAlias } from './vite.config.ts';

export default defineConfig({
  resolve: { alias: sharedAlias },
  test: {
    include: [
      'shared/**/*.test.ts',
      'signaling/**/*.test.ts',
      'web/**/*.test.ts',
      'bench/**/*.test.ts',
      'tests/**/*.test.ts',
    ],
    environment: 'node',
    testTimeout: 30_000,
    pool: 'forks',
  },
});

import { defineConfig } from '@playwright/test';

// Chromium comes from Debian's package: Playwright cannot download its own here.
// WebGPU runs through SwiftShader headless; pages must come from http://localhost
// (a secure context) for navigator.gpu to exist.
export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--enable-features=Vulkan',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export const E2E_PORT = Number(process.env.E2E_PORT ?? 4173);

export default defineConfig({
  testDir: 'e2e',
  outputDir: process.env.E2E_OUTPUT_DIR ?? 'test-results',
  timeout: 180_000,
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list'], ['json', { outputFile: process.env.E2E_REPORT ?? 'reports/e2e.json' }]],
  use: {
    baseURL: `http://localhost:${E2E_PORT}`,
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS },
    trace: 'off',
  },
  webServer: {
    // The real signaling server, serving the freshly built app and harness pages (with COOP/COEP);
    // `--mode test` is the build that keeps web/harness/*.html (production leaves them out).
    command: `npx vite build --mode test --logLevel warn && npx tsx signaling/src/main.ts --port ${E2E_PORT} --host 127.0.0.1`,
    url: `http://localhost:${E2E_PORT}/healthz`,
    stdout: 'ignore',
    stderr: 'pipe',
    reuseExistingServer: !process.env.CI,
    timeout: 180_000,
  },
});

import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';

// COOP/COEP make the page cross-origin isolated, which onnxruntime-web needs for
// SharedArrayBuffer (WASM threads). The signaling server sends the same headers.
const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/**
 * The app's page, plus every test/bench harness page in web/harness/ in the
 * test build only (`vite build --mode test`, which the e2e suite runs): a
 * production build must not serve test pages (issue 21 #9).
 */
export function pageInputs(withHarness: boolean): Record<string, string> {
  const inputs: Record<string, string> = { index: resolve(import.meta.dirname, 'web/index.html') };
  if (!withHarness) return inputs;
  const harnessDir = resolve(import.meta.dirname, 'web/harness');
  for (const file of safeReaddir(harnessDir)) {
    if (file.endsWith('.html')) inputs[`harness-${file.slice(0, -5)}`] = resolve(harnessDir, file);
  }
  return inputs;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** `@shared/<folder>`: the shared package by its public folders (tsconfig.json's `paths` say the same). */
export const sharedAlias = [{ find: /^@shared\//, replacement: `${resolve(import.meta.dirname, 'shared/src')}/` }];

/** The mode whose build keeps the harness pages. */
export const TEST_MODE = 'test';

export default defineConfig(({ mode }) => ({
  root: 'web',
  plugins: [react()],
  resolve: { alias: sharedAlias },
  build: {
    // WEB_OUT_DIR lets parallel e2e runs build into separate folders.
    outDir: resolve(import.meta.dirname, process.env.WEB_OUT_DIR ?? 'dist/web'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 30_000,
    rollupOptions: {
      input: pageInputs(mode === TEST_MODE),
    },
  },
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  server: { headers: isolationHeaders },
  preview: { headers: isolationHeaders },
}));

/**
 * The compute layer in real Chromium: capability probe and benchmark, every
 * built-in model on WASM and on WebGPU (SwiftShader here, so tiny sizes), and
 * upload validation. Pages come from the built app, so this also proves that
 * onnxruntime's wasm is served by us (every request must stay on localhost).
 */
import { expect, test, type Page } from '@playwright/test';
import * as v from 'valibot';
import { CapabilitiesSchema, type Backend } from '@shared/protocol';
import { BUILTIN_MODELS } from '@shared/models';
import { mlpClassifier } from '@shared/models';
import { writeNpy } from '@shared/tensor';

/** Rows per run: WebGPU is SwiftShader (~0.2 GFLOP/s) on CI machines, so keep it tiny. */
const ROWS: Record<Backend, number> = { wasm: 16, webgpu: 2 };

async function openHarness(page: Page, foreignRequests: string[]): Promise<void> {
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (!['localhost', '127.0.0.1'].includes(url.hostname) && url.protocol !== 'data:' && url.protocol !== 'blob:')
      foreignRequests.push(request.url());
  });
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  await page.goto('/harness/compute.html');
  await page.waitForFunction(() => window.computeHarness !== undefined);
}

test.describe('compute layer', () => {
  const foreign: string[] = [];
  test.beforeEach(async ({ page }) => openHarness(page, foreign));
  test.afterEach(() => expect(foreign, 'requests that left localhost').toEqual([]));

  test('probe returns valid Capabilities and picks the faster backend', async ({ page }) => {
    // software: SwiftShader is benchmarked too (a provider skips it; see the next test).
    const report = await page.evaluate(() => window.computeHarness!.probe({ software: true }));
    const capabilities = v.parse(CapabilitiesSchema, report.capabilities);
    expect(report.wasm.simd).toBe(true);
    expect(capabilities.wasm.cores).toBeGreaterThanOrEqual(1);
    expect(capabilities.wasm.threads).toBe(report.wasm.crossOriginIsolated);
    expect(report.webgpu.available, 'Chromium runs with SwiftShader WebGPU flags').toBe(true);
    expect(capabilities.adapter?.vendor).toBeTruthy();
    expect(capabilities.measured.wasm).toBeGreaterThan(0);
    expect(capabilities.measured.webgpu).toBeGreaterThan(0);
    const { wasm = 0, webgpu = 0 } = capabilities.measured;
    expect(capabilities.backend).toBe(webgpu >= 0.9 * wasm ? 'webgpu' : 'wasm');
    expect(capabilities.gflops).toBe(capabilities.measured[capabilities.backend]);
    expect(report.reason).toMatch(/GFLOP\/s/);
    test
      .info()
      .annotations.push({ type: 'measured GFLOP/s', description: `wasm ${wasm}, webgpu ${webgpu}; ${report.reason}` });
    console.log(
      `measured GFLOP/s: wasm ${wasm}, webgpu ${webgpu} — ${report.reason}; runs: ${JSON.stringify(report.benchmarks)}`,
    );
  });

  test('a provider does not spend its start benchmarking a software WebGPU adapter', async ({ page }) => {
    const report = await page.evaluate(() => window.computeHarness!.probe());
    expect(report.webgpu.available).toBe(true);
    expect(Object.keys(report.benchmarks)).toEqual(['wasm']);
    expect(report.capabilities.backend).toBe('wasm');
    expect(report.reason).toMatch(
      /WebGPU here is .*swiftshader, a software adapter that runs on the CPU \(not benchmarked\)/,
    );
  });

  for (const model of BUILTIN_MODELS) {
    for (const backend of ['wasm', 'webgpu'] as const) {
      test(`${model.id} on ${backend} equals the TS reference`, async ({ page }) => {
        const result = await page.evaluate(([id, b, rows]) => window.computeHarness!.checkModel(id, b, rows), [
          model.id,
          backend,
          ROWS[backend],
        ] as const);
        expect(result.backend).toBe(backend);
        expect(result.ok, result.message).toBe(true);
      });
    }
  }

  test('WASM runs multi-threaded from the built app (pthread workers load our own .mjs)', async ({ page }) => {
    expect(await page.evaluate(() => crossOriginIsolated), 'pages are served with COOP/COEP').toBe(true);
    const result = await page.evaluate(() => window.computeHarness!.checkModel('matmul-256', 'wasm', 32, 2));
    expect(result.numThreads).toBe(2);
    expect(result.ok, result.message).toBe(true);
  });

  test('rejects bad uploads with clear errors', async ({ page }) => {
    const text = [...new TextEncoder().encode('name,value\nfoo,1\n')];
    const notOnnx = await page.evaluate((bytes) => window.computeHarness!.validateUpload(bytes, 'onnx'), text);
    expect(notOnnx).toMatchObject({ ok: false, code: 'not-onnx' });
    expect(notOnnx.message).toMatch(/not an ONNX model/);

    const good = [...mlpClassifier.build()];
    expect(await page.evaluate((bytes) => window.computeHarness!.validateUpload(bytes, 'onnx'), good)).toMatchObject({
      ok: true,
    });

    const npy = writeNpy({ dtype: 'float32', dims: [4, 64], data: new Float32Array(256) });
    const truncated = await page.evaluate(
      (bytes) => window.computeHarness!.validateUpload(bytes, 'npy'),
      [...npy.subarray(0, npy.length - 8)],
    );
    expect(truncated).toMatchObject({ ok: false, code: 'truncated' });

    // The worker, too, answers garbage with a typed error instead of dying.
    const loaded = await page.evaluate((bytes) => window.computeHarness!.loadInWorker(bytes, 'wasm'), text);
    expect(loaded.code).toBe('model-load-failed');
  });
});

/**
 * The training engine in real Chromium: the WASM backend inside a Web Worker, on one thread and on two
 * (a SharedArrayBuffer in the cross-origin-isolated page), reproduces Node's run bit for bit, and the
 * JS f32 reference on the page agrees within the engine's stated tolerance.
 */
import { expect, test } from '@playwright/test';
import { ADAMW_DEFAULTS, arenaFor, newTrainState, PRESETS, restoreInto, trainStep, WasmBackend } from '@shared/train';
import { checksum, HARNESS_B, HARNESS_SEED, HARNESS_STEPS, harnessBatches } from '../web/harness/train-engine-data';
import type { TrainHarnessReport } from '../web/harness/train-engine';

function nodeRun() {
  const config = PRESETS.tiny;
  const b = new WasmBackend(arenaFor(config, HARNESS_B, config.context));
  restoreInto(b, newTrainState(config, ADAMW_DEFAULTS, HARNESS_SEED));
  const losses = harnessBatches(config, HARNESS_B, config.context, HARNESS_STEPS, HARNESS_SEED).map((batch, k) =>
    trainStep(b, batch, ADAMW_DEFAULTS, k + 1),
  );
  return { losses, checksum: checksum(b.f.slice(0, 3 * b.arena.params.size)) };
}

let report: TrainHarnessReport;

// One harness run serves every test: it trains in workers, on the page and on SwiftShader WebGPU.
test.beforeAll(async ({ browser }) => {
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  await page.goto('/harness/train-engine.html');
  await page.waitForFunction(() => window.trainHarness !== undefined);
  report = await page.evaluate(() => window.trainHarness!.run());
  await page.close();
});

test('TRAIN-E1: WASM training in a Web Worker (1 and 2 threads) equals Node bit for bit', async () => {
  expect(report.isolated, 'the harness page is cross-origin isolated').toBe(true);
  const expected = nodeRun();
  for (const w of report.workers) {
    expect(w.error, w.backend).toBeNull();
    expect(w.losses, w.backend).toEqual(expected.losses);
    expect(w.checksum, `${w.backend} weights and moments`).toBe(expected.checksum);
  }
  expect(report.workers.map((w) => w.backend)).toEqual(['wasm-simd', 'wasm-simd-2t']);
  // The f32 reference does its arithmetic in float64: losses agree to rounding (see wasm.test.ts TRAIN-W3).
  report.jsLosses.forEach((l, k) => expect(Math.abs(l - expected.losses[k]!), `step ${k + 1}`).toBeLessThan(1e-5));
});

test('TRAIN-E2: WebGPU linear-layer forward and gradients equal WASM within 1e-5 on SwiftShader', async () => {
  // No adapter is a failure, not a skip: SwiftShader provides one here.
  expect(report.gpu.error).toBeNull();
  expect(report.gpu.tile).toBeGreaterThanOrEqual(8);
  expect(report.gpu.cases.length).toBe(3);
  for (const c of report.gpu.cases) {
    // Both sum in f32, in different orders: rounding only, a few ulps of the largest value per product.
    expect(c.relDiff, `${c.shape.join('×')}`).toBeLessThan(1e-5);
    expect(c.maxAbs, `${c.shape.join('×')} computes something`).toBeGreaterThan(0.1);
  }
});

test('TRAIN-E3: a whole WebGPU training step equals WASM within 1e-4 at the tiny preset on SwiftShader', async () => {
  const g = report.gpuStep;
  console.log(
    `WebGPU step: ${g.ms.toFixed(0)} ms, losses ${g.gpuLosses} vs WASM ${g.wasmLosses}, grads ${g.gradRelDiff}`,
  );
  expect(g.error).toBeNull();
  // Different summation orders in f32 (the GEMM's tiles, per-row loops): rounding only. After one AdamW
  // step a near-zero gradient may flip sign, so the second loss gets the looser bound.
  expect(g.gradRelDiff).toBeLessThan(1e-4);
  expect(Math.abs(g.gpuLosses[0]! - g.wasmLosses[0]!)).toBeLessThan(1e-5);
  expect(Math.abs(g.gpuLosses[1]! - g.wasmLosses[1]!)).toBeLessThan(1e-4);
  expect(Math.abs(g.gpuLosses[2]! - g.wasmLosses[2]!), 'validation loss after two steps').toBeLessThan(1e-4);
  expect(g.wasmLosses[1]).toBeLessThan(g.wasmLosses[0]! + 1); // a real step ran
});

/**
 * The Train job on the dashboard, in real Chromium against the real server: the tiny preset trains for
 * 200 steps on the Brown corpus in a Web Worker (WASM; SwiftShader's WebGPU adapter is software, so
 * `auto` keeps WASM), the validation loss falls and the chart shows it; then the same seeded job, reloaded
 * mid-training, resumes from its IndexedDB checkpoint and reproduces the uninterrupted run's loss curve
 * bit for bit.
 */
import { readFileSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';
import {
  defaultTrainSpec,
  GreedySampler,
  hyperFor,
  prepareData,
  stateFromSafetensors,
  TrainSession,
  WasmTrainEngine,
} from '@shared/jobs';
import { arenaFor, PRESETS, WasmBackend } from '@shared/train';
import { brownText } from '../bench/train/corpus';
import { DEFAULT_FORM, specFromForm } from '../web/src/train/form';
import * as ort from 'onnxruntime-web';

/** Measured in Node on the same code (TRAINJOB tests' session): ~4.63 after 200 steps from ln(512) ≈ 6.24. */
const VAL_LOSS_BELOW = 5.0;
const STEPS = 200;

/** The newest stored checkpoint's curves for a job, read straight from IndexedDB (what a reload reads). */
async function storedHistory(page: Page, id: string) {
  return page.evaluate(async (jobId) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open('templar-train');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const store = db.transaction('kv').objectStore('kv');
    const ask = <T>(q: IDBRequest<T>) =>
      new Promise<T>((resolve, reject) => {
        q.onsuccess = () => resolve(q.result);
        q.onerror = () => reject(q.error);
      });
    const keys = (await ask(store.getAllKeys())).map(String).filter((k) => k.startsWith(`train/ckpt/${jobId}/`));
    keys.sort();
    const rec = (await ask(store.get(keys.at(-1)!))) as {
      step: number;
      history: { train: [number, number][]; val: [number, number][] };
    };
    db.close();
    return { step: rec.step, train: rec.history.train, val: rec.history.val, keys: keys.length };
  }, id);
}

async function startJob(page: Page): Promise<string> {
  const before = await page.getByTestId('train-job').count();
  await page.getByTestId('train-submit').click();
  await expect(page.getByTestId('train-job')).toHaveCount(before + 1);
  // The newest job is listed first.
  return (await page.getByTestId('train-job').first().getAttribute('data-job-id'))!;
}

const card = (page: Page, id: string) => page.locator(`[data-testid="train-job"][data-job-id="${id}"]`);

test('E2E-TRAIN1: tiny trains 200 steps in the dashboard, validation loss falls, a reload resumes bit-identically', async ({
  page,
}) => {
  test.setTimeout(180_000);
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto('/#/train');
  await expect(page.getByTestId('train-view')).toHaveAttribute('data-loaded', 'true');
  await expect(page.getByTestId('train-estimate')).toContainText('M parameters');

  // 1. An uninterrupted seeded run (the form's defaults: tiny, Brown ×8, 200 steps, batch 8, seed 1).
  const a = await startJob(page);
  const jobA = card(page, a);
  await expect(jobA.getByTestId('train-status')).toHaveText('running', { timeout: 30_000 });
  await expect(jobA.getByTestId('train-status')).toHaveText('done', { timeout: 120_000 });
  await expect(jobA).toContainText('wasm-simd');
  const historyA = await storedHistory(page, a);
  expect(historyA.step).toBe(STEPS);
  expect(historyA.train.map(([s]) => s)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
  const [, firstVal] = historyA.val[0]!;
  const [lastStep, lastVal] = historyA.val.at(-1)!;
  console.log(`validation loss ${firstVal.toFixed(4)} at step 0 → ${lastVal.toFixed(4)} at step ${lastStep}`);
  expect(lastStep).toBe(STEPS);
  expect(lastVal).toBeLessThan(VAL_LOSS_BELOW);
  expect(lastVal).toBeLessThan(firstVal - 1);
  // The chart shows it: a canvas, and both series hold points (train every step, validation every 25).
  const chart = jobA.getByTestId('train-loss-chart');
  await expect(chart.locator('canvas')).toHaveCount(1);
  await expect(chart).toHaveAttribute('data-points', `${STEPS},${STEPS / 25 + 1}`);
  await expect(jobA.getByTestId('train-val-loss')).toHaveText(lastVal.toFixed(4));
  await expect(jobA.getByTestId('train-sample')).not.toBeEmpty();
  console.log(`tokens/s (smoothed, last steps): ${await jobA.getByTestId('train-speed').textContent()}`);
  // Last K checkpoints only.
  expect(historyA.keys).toBe(3);

  // 2. The same seeded job again, with the page reloaded after its first checkpoint.
  const b = await startJob(page);
  const jobB = card(page, b);
  await expect(jobB.getByTestId('train-checkpoint')).toHaveText('step 25', { timeout: 60_000 });
  await expect
    .poll(async () => Number(await jobB.getByTestId('train-step').textContent()), { timeout: 30_000 })
    .toBeGreaterThan(30);
  const stepAtReload = Number(await jobB.getByTestId('train-step').textContent());
  await page.reload();
  await expect(page.getByTestId('train-view')).toHaveAttribute('data-loaded', 'true');
  const jobB2 = card(page, b);
  await expect(jobB2.getByTestId('train-status')).toHaveText('done', { timeout: 120_000 });
  const historyB = await storedHistory(page, b);
  console.log(`reloaded at step ${stepAtReload}; resumed from the checkpoint and finished at ${historyB.step}`);
  expect(stepAtReload).toBeLessThan(STEPS);
  // Bit-identical: every loss of the resumed run equals the uninterrupted one (JSON numbers are exact f32 values).
  expect(historyB.train).toEqual(historyA.train);
  expect(historyB.val).toEqual(historyA.val);
});

async function downloadOf(page: Page, button: ReturnType<Page['getByTestId']>): Promise<Uint8Array> {
  const [download] = await Promise.all([page.waitForEvent('download'), button.click()]);
  return new Uint8Array(readFileSync((await download.path())!));
}

test('E2E-TRAIN2: bad uploads and oversized configs are refused; a checkpoint downloads, restarts a job, and exports to ONNX', async ({
  page,
}) => {
  test.setTimeout(150_000);
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto('/#/train');
  await expect(page.getByTestId('train-view')).toHaveAttribute('data-loaded', 'true');
  const formError = page.getByTestId('train-form-error');

  // Empty and binary corpora are refused when chosen, with what is wrong.
  await page.getByTestId('train-corpus-upload').check();
  const corpusFile = page.getByTestId('train-corpus-file');
  await corpusFile.setInputFiles({ name: 'empty.txt', mimeType: 'text/plain', buffer: Buffer.alloc(0) });
  await expect(formError).toContainText('empty.txt is empty');
  await corpusFile.setInputFiles({
    name: 'blob.txt',
    mimeType: 'text/plain',
    buffer: Buffer.from([0x50, 0x4b, 3, 4, 0, 0, 9]),
  });
  await expect(formError).toContainText('blob.txt is binary');
  await page.getByTestId('train-submit').click();
  await expect(formError).toContainText('choose a .txt or .jsonl file');

  // A config past WebAssembly's 4 GiB is refused before anything is allocated, naming the estimate and the limit.
  await page.getByRole('radio').first().check();
  await page.getByTestId('train-preset').selectOption('custom');
  await page.getByTestId('train-custom-layers').fill('48');
  await page.getByTestId('train-custom-width').fill('4096');
  await page.getByTestId('train-custom-context').fill('2048');
  await expect(page.getByTestId('train-estimate')).toContainText(
    "of WebAssembly memory, over WebAssembly's limit of 4.00 GiB",
  );
  await page.getByTestId('train-submit').click();
  await expect(formError).toContainText("over WebAssembly's limit of 4.00 GiB");
  await expect(page.getByTestId('train-job')).toHaveCount(0);

  // A short tiny run on Brown, then its checkpoint and its ONNX export as files.
  await page.getByTestId('train-preset').selectOption('tiny');
  for (const [id, v] of [
    ['train-steps', '20'],
    ['train-warmup', '5'],
    ['train-eval-every', '10'],
    ['train-sample-every', '10'],
    ['train-checkpoint-every', '10'],
  ] as const)
    await page.getByTestId(id).fill(v);
  const a = await startJob(page);
  await expect(card(page, a).getByTestId('train-status')).toHaveText('done', { timeout: 60_000 });
  const safetensors = await downloadOf(page, card(page, a).getByTestId('train-download'));
  const onnx = await downloadOf(page, card(page, a).getByTestId('train-export-onnx'));

  // The exported model's logits equal the engine's on the downloaded weights (onnxruntime-web, here in Node).
  const spec = defaultTrainSpec('train-e2efiles', 0);
  const { state, tokenizer } = stateFromSafetensors(safetensors, PRESETS.tiny, hyperFor(spec));
  expect(state.step).toBe(20);
  const sampler = new GreedySampler(PRESETS.tiny);
  sampler.setParams(state.params);
  const ids = tokenizer.encode('The jury said it did not find any evidence that the election');
  const want = sampler.logits(ids);
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(onnx, { executionProviders: ['wasm'] });
  const got = (await session.run({ input_ids: new ort.Tensor('int32', ids, [1, ids.length]) })).logits!
    .data as Float32Array;
  await session.release();
  let maxDiff = 0;
  for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
  console.log(`ONNX export vs engine: max |Δlogit| ${maxDiff.toExponential(2)} over ${ids.length} positions`);
  expect(got.length).toBe(want.length);
  expect(maxDiff).toBeLessThan(1e-4);

  // A checkpoint for another config is refused, naming what differs.
  await page
    .getByTestId('train-initial-file')
    .setInputFiles({ name: 'a.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from(safetensors) });
  await page.getByTestId('train-preset').selectOption('small');
  await page.getByTestId('train-submit').click();
  await expect(formError).toContainText('another model (layers: file 2, job 6; width: file 128, job 256');

  // The matching one starts a job at its step: 20 → 30.
  await page.getByTestId('train-preset').selectOption('tiny');
  await page.getByTestId('train-steps').fill('30');
  const b = await startJob(page);
  await expect(card(page, b).getByTestId('train-status')).toHaveText('done', { timeout: 60_000 });
  const history = await storedHistory(page, b);
  expect(history.step).toBe(30);
  expect(history.train.map(([s]) => s)).toEqual(Array.from({ length: 10 }, (_, i) => 21 + i));
});

test('E2E-TRAIN3: the WebGPU backend (SwiftShader) trains the same job as WASM within 1e-4 per step', async ({
  page,
}) => {
  test.setTimeout(120_000);
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto('/#/train');
  await expect(page.getByTestId('train-view')).toHaveAttribute('data-loaded', 'true');
  // SwiftShader runs a tiny step in seconds: one sequence per batch, three steps.
  const form = {
    ...DEFAULT_FORM,
    backend: 'webgpu' as const,
    steps: 3,
    batch: 1,
    warmup: 1,
    evalEvery: 3,
    sampleEvery: 3,
    checkpointEvery: 3,
  };
  await page.getByTestId('train-backend').selectOption('webgpu');
  for (const [id, v] of [
    ['train-steps', '3'],
    ['train-batch', '1'],
    ['train-warmup', '1'],
    ['train-eval-every', '3'],
    ['train-sample-every', '3'],
    ['train-checkpoint-every', '3'],
  ] as const)
    await page.getByTestId(id).fill(v);
  const id = await startJob(page);
  const job = card(page, id);
  await expect(job.getByTestId('train-status')).toHaveText('done', { timeout: 100_000 });
  await expect(job).toContainText('webgpu');
  const gpu = await storedHistory(page, id);

  // The same spec on the WASM engine in Node, over the same corpus.
  const spec = specFromForm(form, null, id, 0);
  const data = prepareData(spec.model, brownText(spec.corpus.kind === 'brown' ? spec.corpus.files : 0));
  const engine = new WasmTrainEngine(new WasmBackend(arenaFor(spec.model, spec.batch, spec.model.context)));
  const session = new TrainSession(spec, {
    engine,
    sampler: null,
    data,
    emit: () => {},
    now: () => 0,
    yieldNow: async () => {},
  });
  await session.run();
  const wasm = session.history;
  console.log(`WebGPU losses ${JSON.stringify(gpu.train)} vs WASM ${JSON.stringify(wasm.train)}`);
  expect(gpu.train.map(([s]) => s)).toEqual([1, 2, 3]);
  gpu.train.forEach(([, l], k) => expect(Math.abs(l - wasm.train[k]![1]), `step ${k + 1}`).toBeLessThan(1e-4));
  gpu.val.forEach(([, l], k) => expect(Math.abs(l - wasm.val[k]![1]), `validation ${k}`).toBeLessThan(1e-4));
  expect(gpu.val.length).toBe(2);
});

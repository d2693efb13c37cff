/**
 * The Train job on the dashboard, in real Chromium against the real server: the tiny preset trains for
 * 200 steps on the Brown corpus in a Web Worker (WASM; SwiftShader's WebGPU adapter is software, so
 * `auto` keeps WASM), the validation loss falls and the chart shows it; then the same seeded job, reloaded
 * mid-training, resumes from its IndexedDB checkpoint and reproduces the uninterrupted run's loss curve
 * bit for bit.
 */
import { expect, type Page, test } from '@playwright/test';

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

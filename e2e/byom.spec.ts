/**
 * Bring your own model (issue 17), through the real dashboard and a real
 * provider tab: each class of model that went wrong, uploaded as a requester
 * would (.onnx built with the project's ONNX builder, inputs as JSON).
 * Refusals happen at the form with a next step; models that can run complete
 * equal to their reference; no honest provider is ever rejected.
 */
import { readFile } from 'node:fs/promises';
import { test, expect, type Locator, type Page } from '@playwright/test';
import {
  BIAS_INPUT,
  batchMeanModel,
  batchMeanReference,
  biasInputModel,
  biasInputReference,
  FIXED_BATCH,
  fixedBatchModel,
  fixedBatchReference,
  gatherModel,
  oldOpsetModel,
} from '@shared/jobs/inference/testing/byom-models';
import type { Tensor } from '@shared/tensor';
import { E2E_PORT } from '../playwright.config';
import { downloadResult, expectClose, openProvider, openRequester, screenshot, type Tab } from './support/network';

const BASE = `http://localhost:${E2E_PORT}`;

test.describe.configure({ mode: 'serial' });

let provider: Tab;
let requester: Tab;

test.beforeAll(async ({ browser }, testInfo) => {
  provider = await openProvider(browser, BASE, 'provider', testInfo);
  requester = await openRequester(browser, BASE, testInfo);
});

test.afterAll(async () => {
  for (const tab of [provider, requester]) await tab?.context.close().catch(() => undefined);
});

const rowsOf = (rows: number, cols: number) =>
  Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => ((r * cols + c) % 23) / 7 - 1.5));

/** Chooses the model file: the form shows what it takes and returns before anything runs. */
async function chooseModel(page: Page, name: string, bytes: Uint8Array): Promise<Locator> {
  await page
    .getByTestId('model-file')
    .setInputFiles({ name, mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) });
  const io = page.getByTestId('model-io');
  await expect(io).toBeVisible();
  // Loading it starts this browser's onnxruntime-web worker the first time: allow for that.
  await expect(io.getByTestId('model-io-loading')).toHaveCount(0, { timeout: 30_000 });
  return io;
}

/** Uploads JSON inputs, sets the unit size and submits. */
async function submit(page: Page, inputs: unknown, unitRows: number): Promise<void> {
  await page.getByTestId('input-file').setInputFiles({
    name: 'inputs.json',
    mimeType: 'application/json',
    buffer: Buffer.from(JSON.stringify(inputs)),
  });
  await page.getByTestId('unit-rows').fill(String(unitRows));
  await page.getByTestId('submit-job').click();
}

/** Submits and returns the new job's card (the form's error, if any, fails the test with its words). */
async function submitJob(page: Page, inputs: unknown, unitRows: number): Promise<Locator> {
  const cards = page.getByTestId('job-card');
  const before = await cards.count();
  await submit(page, inputs, unitRows);
  await expect(page.getByTestId('form-error')).toHaveCount(0);
  await expect(cards).toHaveCount(before + 1, { timeout: 30_000 });
  const id = await cards.first().getAttribute('data-job-id');
  return page.locator(`[data-testid="job-card"][data-job-id="${id}"]`);
}

async function expectDoneWithNobodyRejected(card: Locator): Promise<void> {
  await expect(card.getByTestId('job-status')).toHaveText('done', { timeout: 60_000 });
  await expect(card.getByTestId('units-rejected')).toHaveText('0');
  await expect(card.getByTestId('rejections')).toHaveCount(0);
}

const float32 = (dims: number[], data: ArrayLike<number>): Tensor => ({
  dtype: 'float32',
  dims,
  data: Float32Array.from(data),
});

test('E2E-BYOM1: a model onnxruntime-web cannot load is refused at the form, with the reason and a next step', async () => {
  const page = requester.page;
  const io = await chooseModel(page, 'old-opset.onnx', oldOpsetModel());
  await expect(io.getByTestId('model-io-input')).toHaveText([
    'x: float32 [N, 4] — axis 0 is the batch, split into units',
  ]);
  // Refused as soon as it is chosen...
  const loadError = io.getByTestId('model-io-load-error');
  await expect(loadError).toContainText('this model does not load in onnxruntime-web');
  await expect(loadError).toContainText('Next step: re-export with torch.onnx.export(');
  // ...and again if submitted anyway.
  const cards = await page.getByTestId('job-card').count();
  await submit(page, { x: rowsOf(4, 4) }, 16);
  const error = page.getByTestId('form-error');
  // The check starts this browser's onnxruntime-web worker first: allow for that.
  await expect(error).toBeVisible({ timeout: 30_000 });
  await expect(error).toContainText(
    'this model does not load in onnxruntime-web: the model uses Add from ONNX opset 6, older than onnxruntime-web supports',
  );
  await expect(error).toContainText(
    "Next step: re-export with torch.onnx.export(model, args, 'model.onnx', opset_version=17",
  );
  await expect(error).toContainText('dynamic_axes=');
  // onnxruntime's own words stay available under "details".
  await expect(page.getByTestId('form-error-details')).toContainText('Could not find an implementation for Add(6)');
  await expect(page.getByTestId('job-card')).toHaveCount(cards); // no job was opened
});

test('E2E-BYOM2: a batch fixed at 20 in the model sets the unit size; the job completes equal to the reference', async () => {
  const page = requester.page;
  const io = await chooseModel(page, 'fixed-batch.onnx', fixedBatchModel());
  await expect(io.getByTestId('model-io-loads')).toBeVisible();
  await expect(io.getByTestId('model-io-batch')).toHaveText(
    'batch fixed at 20 rows by the export: every unit is 20 rows',
  );
  const x = rowsOf(3 * FIXED_BATCH, 4);
  const card = await submitJob(page, { x }, 16);
  await expect(card).toContainText('60 rows in units of 20');
  await expectDoneWithNobodyRejected(card);
  expect(Number(await card.getByTestId('units-complete').textContent())).toBe(3);
  expectClose(await downloadResult(card), float32([60, 4], fixedBatchReference(Float32Array.from(x.flat()))));
});

test('E2E-BYOM3: a second input without a batch axis is sent whole with every unit; results equal the reference', async () => {
  const page = requester.page;
  const io = await chooseModel(page, 'bias-input.onnx', biasInputModel());
  await expect(io.getByTestId('model-io-loads')).toBeVisible();
  await expect(io.getByTestId('model-io-input')).toHaveText([
    'x: float32 [batch, 3] — axis 0 is the batch, split into units',
    'b: float32 [3] — no batch axis: sent whole with every unit',
  ]);
  const x = rowsOf(10, 3);
  const card = await submitJob(page, { x, b: Array.from(BIAS_INPUT) }, 4);
  await expectDoneWithNobodyRejected(card);
  expect(Number(await card.getByTestId('units-complete').textContent())).toBe(3);
  expectClose(
    await downloadResult(card),
    float32([10, 3], biasInputReference(Float32Array.from(x.flat()), BIAS_INPUT)),
  );
});

test('E2E-BYOM4: an output without a batch axis runs the whole batch as one unit, as the form says; nobody is rejected', async ({}, testInfo) => {
  const page = requester.page;
  const io = await chooseModel(page, 'batch-mean.onnx', batchMeanModel());
  await expect(io.getByTestId('model-io-loads')).toBeVisible();
  await expect(io.getByTestId('model-io-output')).toHaveText([
    'r: float32 [N, 4] — axis 0 is the batch, joined in unit order',
    'mean: float32 [4] — no batch axis: the whole batch runs as one unit',
  ]);
  const x = rowsOf(40, 4);
  const card = await submitJob(page, { x }, 16);
  await expect(card).toContainText('40 rows in units of 40');
  await expectDoneWithNobodyRejected(card);
  const [download] = await Promise.all([page.waitForEvent('download'), card.getByTestId('download-json').click()]);
  const json = JSON.parse(await readFile(await download.path(), 'utf8')) as {
    outputs: Record<string, { dims: number[]; data: number[] }>;
  };
  expect(json.outputs.mean!.dims).toEqual([4]);
  const reference = batchMeanReference(Float32Array.from(x.flat()));
  json.outputs.mean!.data.forEach((m, i) => expect(m).toBeCloseTo(reference[i]!, 5));
  expect(json.outputs.r!.data).toEqual(x.flat().map((v) => Math.max(0, Math.fround(v))));
  await screenshot(requester, testInfo, 'requester-byom.png');
});

test('E2E-BYOM5: a model that fails every unit on the provider ends as failed within 30 s, the reason on the card', async ({}, testInfo) => {
  const page = requester.page;
  await chooseModel(page, 'gather.onnx', gatherModel());
  // The first unit (the one the form's check runs) is valid; every other holds an index past the table's 10 rows.
  const idx = Array.from({ length: 16 }, (_, i) => (i >= 4 && i % 4 === 1 ? 99 : i % 10));
  const card = await submitJob(page, { idx }, 4);
  await expect(card.getByTestId('job-status')).toHaveText('failed', { timeout: 30_000 });
  const failure = card.getByTestId('job-failure');
  await expect(failure).toContainText(
    'Job failed: an index in the input (99) is outside the table the model looks it up in, which has 10 entries',
  );
  await expect(failure).toContainText('next step: keep every index input between 0 and 9');
  await expect(card.getByTestId('job-failure-details')).toContainText('fails the same way on every try');
  await expect(card.getByTestId('job-failure-details')).toContainText('idx=99 must be within the inclusive range');
  await expect(card.getByTestId('units-rejected')).toHaveText('0');
  await screenshot(requester, testInfo, 'requester-byom-failed.png');
});

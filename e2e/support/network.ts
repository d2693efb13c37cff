/**
 * Drives the real product for e2e tests: a real signaling server process,
 * provider tabs and a requester dashboard in separate browser contexts (each
 * its own IndexedDB, so its own identity), talking over real WebRTC.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { readFile } from 'node:fs/promises';
import type { Browser, BrowserContext, Locator, Page, TestInfo } from '@playwright/test';
import { expect } from '@playwright/test';
import { getBuiltinModel } from '@shared/models';
import { compareTensors, parseNpy, type Tensor } from '@shared/tensor';

export interface ServerProcess {
  url: string;
  stop(): Promise<void>;
  /** SIGKILL: a crash, with no chance to say goodbye. */
  kill(): Promise<void>;
}

/** Starts `tsx signaling/src/main.ts` on loopback and waits until /healthz answers; `extra` adds flags and environment. */
export async function startServer(
  port: number,
  extra: { args?: string[]; env?: Record<string, string>; logFile?: string } = {},
): Promise<ServerProcess> {
  const url = `http://localhost:${port}`;
  // A server left over from an earlier run would answer /healthz and silently take this test's place.
  if (
    await fetch(`${url}/healthz`).then(
      () => true,
      () => false,
    )
  )
    throw new Error(`port ${port} is already in use; stop whatever listens there`);
  if (extra.logFile) mkdirSync(dirname(extra.logFile), { recursive: true });
  // node itself (not npx) so SIGTERM reaches the server and tests its graceful shutdown.
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'signaling/src/main.ts', '--port', String(port), '--host', '127.0.0.1', ...(extra.args ?? [])],
    {
      // With logFile the server's JSON log lines (info and up) are kept for the report.
      stdio: ['ignore', extra.logFile ? openSync(extra.logFile, 'a') : 'ignore', 'pipe'],
      env: { ...process.env, LOG_LEVEL: extra.logFile ? 'info' : 'warn', ...extra.env },
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early: ${stderr}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`server did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const end = (signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  return { url, stop: () => end('SIGTERM'), kill: () => end('SIGKILL') };
}

export interface Tab {
  context: BrowserContext;
  page: Page;
}

async function openTab(browser: Browser, url: string, name: string, testInfo: TestInfo): Promise<Tab> {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (error) =>
    testInfo.annotations.push({ type: `${name} page error`, description: error.message }),
  );
  await page.goto(url);
  return { context, page };
}

/** `query` (e.g. `?signal=…`) goes before the route. */
export async function openProvider(
  browser: Browser,
  base: string,
  name: string,
  testInfo: TestInfo,
  query = '',
): Promise<Tab> {
  const tab = await openTab(browser, `${base}/${query}#/provide`, name, testInfo);
  await expect(tab.page.getByTestId('connection')).toHaveText('open', { timeout: 90_000 });
  return tab;
}

export async function openRequester(browser: Browser, base: string, testInfo: TestInfo): Promise<Tab> {
  const tab = await openTab(browser, `${base}/#/request`, 'requester', testInfo);
  await expect(tab.page.getByTestId('requester-connection')).toHaveText('open', { timeout: 30_000 });
  return tab;
}

export interface JobSettings {
  /** A built-in model's id, or 'upload' with modelFile. */
  model: string;
  rows: number;
  unitRows: number;
  seed: number;
  spotCheckPercent?: number;
  /** Paths of files to upload: the .onnx (with model 'upload') and the inputs (.npy or JSON). */
  modelFile?: string;
  inputFile?: string;
}

/** Fills the form like a user and returns the new job's card. */
export async function submitJob(page: Page, job: JobSettings): Promise<Locator> {
  const cards = page.getByTestId('job-card');
  const before = await cards.count();
  await page.getByTestId('model-select').selectOption(job.model);
  if (job.modelFile) await page.getByTestId('model-file').setInputFiles(job.modelFile);
  if (job.inputFile) await page.getByTestId('input-file').setInputFiles(job.inputFile);
  await page.getByTestId('rows').fill(String(job.rows));
  await page.getByTestId('seed').fill(String(job.seed));
  await page.getByTestId('unit-rows').fill(String(job.unitRows));
  await page.getByTestId('spot-check').fill(String(job.spotCheckPercent ?? 5));
  await page.getByTestId('submit-job').click();
  await expect(cards).toHaveCount(before + 1, { timeout: 30_000 });
  const id = await cards.first().getAttribute('data-job-id');
  return page.locator(`[data-testid="job-card"][data-job-id="${id}"]`);
}

export async function unitsComplete(card: Locator): Promise<number> {
  return Number(await card.getByTestId('units-complete').textContent());
}

export async function waitForUnits(card: Locator, atLeast: number, timeout = 120_000): Promise<void> {
  await expect.poll(() => unitsComplete(card), { timeout }).toBeGreaterThanOrEqual(atLeast);
}

export async function waitForJobDone(card: Locator, timeout = 180_000): Promise<void> {
  await expect(card.getByTestId('job-status')).toHaveText('done', { timeout });
}

/** Clicks "Download .npy" and parses the file the browser saved. */
export async function downloadResult(card: Locator): Promise<Tensor> {
  const [download] = await Promise.all([
    card.page().waitForEvent('download'),
    card.getByTestId('download-npy').click(),
  ]);
  return parseNpy(new Uint8Array(await readFile(await download.path())));
}

/** The built-in model's outputs computed in plain TypeScript on the same seeded inputs. */
export function referenceOutput(modelId: string, rows: number, seed: number): Tensor {
  const model = getBuiltinModel(modelId)!;
  const outputs = model.reference(model.generateInputs(rows, seed));
  return outputs[model.outputs[0]!.name]!;
}

export function expectClose(actual: Tensor, expected: Tensor): void {
  expect(actual.dims).toEqual(expected.dims);
  const result = compareTensors(actual, expected, 1e-5, 1e-4);
  expect(result, JSON.stringify(result)).toMatchObject({ ok: true });
}

/** A full-page screenshot saved as a file in the test's output folder and attached to its report. */
export async function screenshot(tab: Tab, testInfo: TestInfo, name: string): Promise<void> {
  const path = testInfo.outputPath(name);
  await tab.page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

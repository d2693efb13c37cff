/**
 * Issue 21: a 50% duty cycle shows as half a core of the provider worker's CPU
 * time, measured from outside the browser (the worker thread's CPU time in
 * /proc, found through the renderer's pid from the DevTools protocol), and the
 * setting survives a reload. The requester runs in a second browser so that
 * the provider's browser holds only the provider, and its job has spot checks
 * off: re-running a new key's units on the same two cores starved the
 * provider's 100% window (whole-renderer ratios 0.54–1.69 over five runs).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { chromium, test, expect, type Browser, type CDPSession, type Page } from '@playwright/test';
import { encodeModel, floatInitializer, node } from '@shared/models/onnx-builder';
import { CHROMIUM_ARGS, E2E_PORT } from '../playwright.config';

const BASE = `http://localhost:${E2E_PORT}`;
const WIDTH = 64;
const HIDDEN = 1024;
const LAYERS = 6;
/**
 * ~13 MFLOP per row: a unit of 1,200 rows runs ~0.7 s on one WASM thread here, so
 * per-unit overheads stay small, and 60 units outlast warm-up and both windows
 * (~15 units at 100%, ~20 at 50%).
 */
const ROWS = 72_000;
const UNIT_ROWS = 1_200;
/** The window, at 50%; the 100% one only gives the ratio that is recorded. */
const WINDOW_MS = 20_000;
const FULL_WINDOW_MS = 10_000;

/** x [N, 64] → 1024 → (1024 → 1024) × LAYERS → 16, weights scaled so values stay finite. */
function heavyModel(): Uint8Array {
  let seed = 1;
  const rand = (n: number, scale: number) =>
    Float32Array.from({ length: n }, () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return (seed / 2 ** 31 - 0.5) * scale;
    });
  const initializers = [floatInitializer('w_in', [WIDTH, HIDDEN], rand(WIDTH * HIDDEN, 2 / Math.sqrt(WIDTH)))];
  const nodes = [node('MatMul', ['x', 'w_in'], ['h0'])];
  for (let i = 0; i < LAYERS; i++) {
    initializers.push(floatInitializer(`w${i}`, [HIDDEN, HIDDEN], rand(HIDDEN * HIDDEN, 2 / Math.sqrt(HIDDEN))));
    nodes.push(node('MatMul', [`h${i}`, `w${i}`], [`h${i + 1}`]));
  }
  initializers.push(floatInitializer('w_out', [HIDDEN, 16], rand(HIDDEN * 16, 2 / Math.sqrt(HIDDEN))));
  nodes.push(node('MatMul', [`h${LAYERS}`, 'w_out'], ['y']));
  return encodeModel({
    name: 'duty-cycle-heavy',
    inputs: [{ name: 'x', dtype: 'float32', dims: ['N', WIDTH] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: ['N', 16] }],
    initializers,
    nodes,
  });
}

/** Renderer process ids of the browser `cdp` belongs to (only the provider's page lives there). */
async function rendererPids(cdp: CDPSession): Promise<number[]> {
  const { processInfo } = (await cdp.send('SystemInfo.getProcessInfo')) as {
    processInfo: { type: string; id: number; cpuTime: number }[];
  };
  return processInfo.filter((p) => p.type === 'renderer').map((p) => p.id);
}

/** CPU seconds (user + system) of each dedicated worker thread of `pids`, by "pid/tid". */
function workerCpu(pids: readonly number[]): Map<string, number> {
  const ticks = 100; // USER_HZ: /proc counts CPU time in 1/100 s on Linux
  const out = new Map<string, number>();
  for (const pid of pids)
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      } catch {
        continue; // the thread ended between the listing and the read
      }
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!name.startsWith('DedicatedWorker')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(`${pid}/${tid}`, (Number(fields[11]) + Number(fields[12])) / ticks);
    }
  return out;
}

/** CPU seconds per wall second of each worker thread over `ms`. */
async function workerShares(pids: readonly number[], page: Page, ms: number): Promise<Map<string, number>> {
  const before = workerCpu(pids);
  const t0 = Date.now();
  await page.waitForTimeout(ms);
  const after = workerCpu(pids);
  const seconds = (Date.now() - t0) / 1000;
  return new Map([...after].map(([id, cpu]) => [id, (cpu - (before.get(id) ?? 0)) / seconds]));
}

async function unitsDone(page: Page): Promise<number> {
  return Number(await page.getByTestId('units-done').textContent());
}

test('E2E-VOL3: a 50% duty cycle holds the provider worker to half a core of CPU time, measured outside the browser, and survives a reload', async ({
  browser,
}, testInfo) => {
  test.setTimeout(300_000);
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const provider = await context.newPage();
  await provider.goto(`${BASE}/#/provide`);
  await expect(provider.getByTestId('connection')).toHaveText('open', { timeout: 90_000 });
  // One thread, so the worker's CPU time is one core's worth at most.
  await provider.getByTestId('limit-threads').selectOption('1');
  await provider.getByTestId('limit-duty').fill('100');
  const cdp = await browser.newBrowserCDPSession();

  let requesterBrowser: Browser | undefined;
  try {
    requesterBrowser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
    });
    const requester = await (await requesterBrowser.newContext()).newPage();
    await requester.goto(`${BASE}/#/request`);
    await expect(requester.getByTestId('requester-connection')).toHaveText('open', { timeout: 30_000 });
    await requester
      .getByTestId('model-file')
      .setInputFiles({ name: 'heavy.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from(heavyModel()) });
    await expect(requester.getByTestId('model-io-loading')).toHaveCount(0, { timeout: 60_000 });
    const x = Array.from({ length: ROWS }, (_, r) => Array.from({ length: WIDTH }, (_, c) => ((r + c) % 17) - 8)); // short JSON numbers
    await requester.getByTestId('input-file').setInputFiles({
      name: 'inputs.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify({ x })),
    });
    await requester.getByTestId('unit-rows').fill(String(UNIT_ROWS));
    await requester.getByTestId('spot-check').fill('0');
    await requester.getByTestId('submit-job').click();
    await expect(requester.getByTestId('form-error')).toHaveCount(0);

    // Warm-up: the model compiled and the first units through, so the windows measure steady work.
    await expect.poll(() => unitsDone(provider), { timeout: 90_000 }).toBeGreaterThanOrEqual(4);
    const before = await unitsDone(provider);
    const pids = await rendererPids(cdp);
    const atFull = await workerShares(pids, provider, FULL_WINDOW_MS);
    const unitsAtFull = await unitsDone(provider);
    // The compute worker is the dedicated worker that was busy at 100%.
    const [compute, full] = [...atFull].reduce((a, b) => (b[1] > a[1] ? b : a));

    await provider.getByTestId('limit-duty').fill('50');
    await expect(provider.getByTestId('limit-duty-value')).toHaveText('50% of the time');
    await provider.waitForTimeout(2_000); // the unit in flight when it changed ends at full speed
    const half = (await workerShares(pids, provider, WINDOW_MS)).get(compute) ?? 0;
    const unitsAtHalf = (await unitsDone(provider)) - unitsAtFull;
    const ratio = half / full;
    testInfo.annotations.push({
      type: 'duty-cycle',
      description: `compute worker CPU ${full.toFixed(3)} s/s at 100% (${unitsAtFull - before} units), ${half.toFixed(3)} s/s at 50% (${unitsAtHalf} units): ratio ${ratio.toFixed(3)}`,
    });
    console.log(testInfo.annotations.at(-1)!.description);
    // The job still had work through the 50% window: a job that ran out would measure idling, not the duty cycle.
    await expect(requester.getByTestId('job-status')).not.toHaveText('done');

    await provider.reload();
    await expect(provider.getByTestId('connection')).toHaveText('open', { timeout: 90_000 });
    await expect(provider.getByTestId('limit-duty-value')).toHaveText('50% of the time');
    await expect(provider.getByTestId('limit-threads')).toHaveValue('1');
    // Units done come back from IndexedDB, and the contribution view charts them by day.
    expect(Number(await provider.getByTestId('lifetime-units').textContent())).toBeGreaterThanOrEqual(unitsAtFull);
    await expect(provider.getByTestId('contribution-chart')).toBeVisible();
    for (const [width, height, label] of [
      [1200, 900, 'desktop'],
      [390, 844, 'phone'],
    ] as const) {
      await provider.setViewportSize({ width, height });
      await provider.waitForTimeout(300);
      const path = testInfo.outputPath(`provider-working-${label}.png`);
      await provider.screenshot({ path, fullPage: true });
      await testInfo.attach(`provider-working-${label}.png`, { path, contentType: 'image/png' });
    }
    // Checked last, so the reload and the screenshots above happen whatever the figure. At 50% the worker
    // computes half the time, so its CPU time is half a core (it runs one thread) within the issue's ±10%.
    // At 100% the rest of the machine (the requester's browser, the server) takes some of its core on two
    // cores, so the ratio to the 100% window reads above 0.5: that figure is recorded, and must show a
    // clear cut.
    expect(full, 'the provider was busy at 100%').toBeGreaterThan(0.6);
    expect(half).toBeGreaterThan(0.4);
    expect(half).toBeLessThan(0.6);
    expect(ratio).toBeLessThan(0.8);
  } finally {
    await requesterBrowser?.close();
    await context.close();
  }
});

/**
 * The whole network, end to end: the real signaling server, provider tabs and
 * a requester dashboard in separate browser contexts, real WebRTC. Results are
 * downloaded as .npy through the UI and compared with the model's TypeScript
 * reference on the same seeded inputs.
 */
import { test, expect } from '@playwright/test';
import { E2E_PORT } from '../playwright.config';
import {
  downloadResult,
  expectClose,
  openProvider,
  openRequester,
  referenceOutput,
  screenshot,
  startServer,
  submitJob,
  unitsComplete,
  waitForJobDone,
  waitForUnits,
  type Tab,
} from './support/network';

const BASE = `http://localhost:${E2E_PORT}`;
const MODEL = 'mlp-classifier';

test.describe.configure({ mode: 'serial' });

async function closeAll(tabs: Tab[]): Promise<void> {
  for (const tab of tabs) await tab.context.close().catch(() => undefined);
}

test('E2E-NET1: two providers and a requester complete a 64-unit job equal to the reference', async ({
  browser,
}, testInfo) => {
  const providers = [
    await openProvider(browser, BASE, 'provider-1', testInfo),
    await openProvider(browser, BASE, 'provider-2', testInfo),
  ];
  const requester = await openRequester(browser, BASE, testInfo);
  const job = { model: MODEL, rows: 256, unitRows: 4, seed: 11 };
  const card = await submitJob(requester.page, job);
  await waitForJobDone(card);
  expect(await unitsComplete(card)).toBe(64);
  // Both providers did work, and the dashboard accounts for every unit.
  const perProvider = await card.locator('table.providers tbody tr td:nth-child(5)').allTextContents();
  expect(perProvider.map(Number).filter((n) => n > 0).length).toBe(2);
  expect(perProvider.map(Number).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(64);
  expectClose(await downloadResult(card), referenceOutput(MODEL, job.rows, job.seed));
  await screenshot(requester, testInfo, 'requester.png');
  await screenshot(providers[0]!, testInfo, 'provider-1.png');
  await screenshot(providers[1]!, testInfo, 'provider-2.png');
  await closeAll([...providers, requester]);
});

test('E2E-NET2: a provider closed mid-job loses nothing; the job completes equal to the reference', async ({
  browser,
}, testInfo) => {
  const providers = [
    await openProvider(browser, BASE, 'provider-1', testInfo),
    await openProvider(browser, BASE, 'provider-2', testInfo),
  ];
  const requester = await openRequester(browser, BASE, testInfo);
  const job = { model: MODEL, rows: 1024, unitRows: 2, seed: 12 };
  const card = await submitJob(requester.page, job);
  const doomed = providers[1]!;
  await expect
    .poll(async () => Number(await doomed.page.getByTestId('units-done').textContent()), { timeout: 120_000 })
    .toBeGreaterThanOrEqual(5);
  expect(await unitsComplete(card)).toBeLessThan(512);
  await doomed.context.close();
  await waitForJobDone(card);
  expect(await unitsComplete(card)).toBe(512);
  expectClose(await downloadResult(card), referenceOutput(MODEL, job.rows, job.seed));
  await screenshot(requester, testInfo, 'requester-after-provider-loss.png');
  await closeAll([providers[0]!, requester]);
});

test('E2E-NET3: a requester reload mid-job resumes without losing finished units', async ({ browser }, testInfo) => {
  const providers = [
    await openProvider(browser, BASE, 'provider-1', testInfo),
    await openProvider(browser, BASE, 'provider-2', testInfo),
  ];
  const requester = await openRequester(browser, BASE, testInfo);
  const job = { model: MODEL, rows: 1024, unitRows: 2, seed: 13 };
  const card = await submitJob(requester.page, job);
  await waitForUnits(card, 20);
  expect(await unitsComplete(card)).toBeLessThan(512);
  await requester.page.reload();
  await expect(card).toBeVisible({ timeout: 30_000 });
  // Progress is restored from IndexedDB, not started over.
  expect(await unitsComplete(card)).toBeGreaterThanOrEqual(20);
  await waitForJobDone(card);
  expect(await unitsComplete(card)).toBe(512);
  expectClose(await downloadResult(card), referenceOutput(MODEL, job.rows, job.seed));
  await screenshot(requester, testInfo, 'requester-after-reload.png');
  await closeAll([...providers, requester]);
});

test('E2E-NET4: after a server restart every client reconnects and the network carries on', async ({
  browser,
}, testInfo) => {
  test.setTimeout(300_000);
  const port = E2E_PORT + 1;
  let server = await startServer(port);
  const tabs: Tab[] = [];
  try {
    const providers = [
      await openProvider(browser, server.url, 'provider-1', testInfo),
      await openProvider(browser, server.url, 'provider-2', testInfo),
    ];
    const requester = await openRequester(browser, server.url, testInfo);
    tabs.push(...providers, requester);
    const first = { model: MODEL, rows: 512, unitRows: 4, seed: 14 };
    const card = await submitJob(requester.page, first);
    await waitForUnits(card, 10);
    await test.step('stop the server', () => server.stop());
    await expect(requester.page.getByTestId('requester-connection')).not.toHaveText('open', { timeout: 30_000 });
    server = await test.step('start it again', () => startServer(port));
    for (const provider of providers)
      await expect(provider.page.getByTestId('connection')).toHaveText('open', { timeout: 60_000 });
    await expect(requester.page.getByTestId('requester-connection')).toHaveText('open', { timeout: 60_000 });
    await waitForJobDone(card);
    expectClose(await downloadResult(card), referenceOutput(MODEL, first.rows, first.seed));
    // A new job after the restart is matched and completed too.
    const second = { model: MODEL, rows: 128, unitRows: 4, seed: 15 };
    const secondCard = await submitJob(requester.page, second);
    await waitForJobDone(secondCard);
    expectClose(await downloadResult(secondCard), referenceOutput(MODEL, second.rows, second.seed));
    await screenshot(requester, testInfo, 'requester-after-restart.png');
  } finally {
    await closeAll(tabs);
    await server.stop();
  }
});

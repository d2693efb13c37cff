/**
 * Trust end to end: two honest provider tabs and one adversarial provider
 * (web/harness/adversary.html, tests only) on the real server over real
 * WebRTC. New keys are checked on every unit (adaptive verification), so the
 * adversary's first wrong result is caught, it is excluded, and the job's
 * downloaded output equals the reference.
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
  submitJob,
  waitForJobDone,
  type Tab,
} from './support/network';
import { openAdversary, setRedundancy, type Strategy } from './support/trust';

const BASE = `http://localhost:${E2E_PORT}`;
const MODEL = 'mlp-classifier';

test.describe.configure({ mode: 'serial' });

async function closeAll(tabs: Tab[]): Promise<void> {
  for (const tab of tabs) await tab.context.close().catch(() => undefined);
}

for (const [i, strategy] of (['noise', 'subtle', 'copied'] as Strategy[]).entries()) {
  test(`E2E-TRUST${i + 1}: an adversary returning ${strategy} results is caught and excluded; the output equals the reference`, async ({
    browser,
  }, testInfo) => {
    const adversary = await openAdversary(browser, BASE, strategy, 0.5, testInfo);
    const providers = [
      await openProvider(browser, BASE, 'honest-1', testInfo),
      await openProvider(browser, BASE, 'honest-2', testInfo),
    ];
    const requester = await openRequester(browser, BASE, testInfo);
    const job = { model: MODEL, rows: 1024, unitRows: 4, seed: 21 + i };
    const card = await submitJob(requester.page, job);
    await waitForJobDone(card);
    expect(await adversary.wrongSent()).toBeGreaterThanOrEqual(1);
    // Figures for the report: units the adversary computed, how many it falsified, and which unit caught it.
    testInfo.annotations.push({
      type: 'detection',
      description: `${strategy}: adversary computed ${await adversary.page.locator('#units-done').textContent()} units, falsified ${await adversary.wrongSent()}; ${await card.getByTestId('rejections').textContent()}`,
    });
    // The adversary's row says rejected, with the check that caught it.
    const row = card.locator(`table.providers tbody tr:has(td[title="${adversary.peerId}"])`);
    await expect(row.locator('td:nth-child(2)')).toHaveText('rejected');
    await expect(row.locator('td.note')).toContainText('spot check');
    expect(Number(await card.getByTestId('units-rejected').textContent())).toBeGreaterThanOrEqual(1);
    await expect(card.getByTestId('rejections')).toContainText('spot check');
    // No honest provider was rejected.
    const states = await card.locator('table.providers tbody tr td:nth-child(2)').allTextContents();
    expect(states.filter((s) => s === 'rejected')).toHaveLength(1);
    // Every wrong result was caught: any accepted one would show in the output.
    expectClose(await downloadResult(card), referenceOutput(MODEL, job.rows, job.seed));
    await screenshot(requester, testInfo, `requester-${strategy}.png`);
    await closeAll([...providers, adversary, requester]);
  });
}

test('E2E-TRUST4: 1,024 honest units from a WebGPU and a WASM provider, every one spot-checked on the requester, none rejected', async ({
  browser,
}, testInfo) => {
  test.setTimeout(500_000);
  const gpu = await openAdversary(browser, BASE, 'noise', 0, testInfo, 'webgpu');
  const cpu = await openAdversary(browser, BASE, 'noise', 0, testInfo, 'wasm');
  const requester = await openRequester(browser, BASE, testInfo);
  const job = { model: MODEL, rows: 1024, unitRows: 1, seed: 31, spotCheckPercent: 100 };
  const card = await submitJob(requester.page, job);
  await waitForJobDone(card, 400_000);
  expect(await gpu.wrongSent()).toBe(0);
  expect(await cpu.wrongSent()).toBe(0);
  expect(Number(await card.getByTestId('units-complete').textContent())).toBe(1024);
  expect(Number(await card.getByTestId('units-rejected').textContent())).toBe(0);
  expect(Number(await card.getByTestId('units-verified').textContent())).toBe(1024);
  for (const p of [gpu, cpu]) {
    const row = card.locator(`table.providers tbody tr:has(td[title="${p.peerId}"])`);
    expect(Number(await row.locator('td:nth-child(5)').textContent())).toBeGreaterThan(0);
  }
  expectClose(await downloadResult(card), referenceOutput(MODEL, job.rows, job.seed));
  await closeAll([gpu, cpu, requester]);
});

test('E2E-TRUST5: redundancy 2 with no spot checks: the adversary is outvoted (by a third replica, or the requester when none is free), excluded, and the output equals the reference', async ({
  browser,
}, testInfo) => {
  const adversary = await openAdversary(browser, BASE, 'noise', 0.5, testInfo);
  const providers = [
    await openProvider(browser, BASE, 'honest-1', testInfo),
    await openProvider(browser, BASE, 'honest-2', testInfo),
  ];
  const requester = await openRequester(browser, BASE, testInfo);
  await setRedundancy(requester.page, 2);
  const job = { model: MODEL, rows: 256, unitRows: 4, seed: 41, spotCheckPercent: 0 };
  const card = await submitJob(requester.page, job);
  await expect(card.getByTestId('policy-redundancy')).toContainText('2 replicas, 2 must agree');
  await expect(card.getByTestId('policy-checks')).toContainText('quorum');
  await waitForJobDone(card);
  expect(await adversary.wrongSent()).toBeGreaterThanOrEqual(1);
  const row = card.locator(`table.providers tbody tr:has(td[title="${adversary.peerId}"])`);
  await expect(row.locator('td:nth-child(2)')).toHaveText('rejected');
  // Outvoted by a third replica; or, when no third provider was ready at that moment (a loaded machine starts
  // tabs slowly), the split is settled by the requester's own run of the unit (SPEC TRUST-Q2). Either way the
  // adversary alone is rejected and every unit is verified.
  await expect(card.getByTestId('rejections')).toContainText(
    /disagreed with the (majority|accepted result)|failed the spot check/,
  );
  const states = await card.locator('table.providers tbody tr td:nth-child(2)').allTextContents();
  expect(states.filter((s) => s === 'rejected')).toHaveLength(1);
  expect(Number(await card.getByTestId('units-verified').textContent())).toBe(job.rows / job.unitRows);
  expectClose(await downloadResult(card), referenceOutput(MODEL, job.rows, job.seed));
  await closeAll([...providers, adversary, requester]);
});

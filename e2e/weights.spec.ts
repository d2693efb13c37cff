/**
 * PULSE weight distribution across the real network: the real signaling
 * server, two provider tabs and a requester dashboard in separate browser
 * contexts, real WebRTC. While a long job keeps the links open, the requester
 * publishes v1 of a bf16 model, then v2 with ~1% of its values nudged.
 */
import { test, expect } from '@playwright/test';
import { E2E_PORT } from '../playwright.config';
import { openProvider, openRequester, screenshot, submitJob, type Tab } from './support/network';
import { publishDemo, rehash, waitAllCurrent } from './support/weights';

const BASE = `http://localhost:${E2E_PORT}`;

async function closeAll(tabs: Tab[]): Promise<void> {
  for (const tab of tabs) await tab.context.close().catch(() => undefined);
}

test('E2E-WEIGHTS1: v2 with ~1% of bf16 weights changed costs ≤ 1/50 of v1, and both providers rebuild v2 by hash', async ({
  browser,
}, testInfo) => {
  test.setTimeout(300_000);
  const providers = [
    await openProvider(browser, BASE, 'provider-1', testInfo),
    await openProvider(browser, BASE, 'provider-2', testInfo),
  ];
  const requester = await openRequester(browser, BASE, testInfo);
  // Links exist only while a job runs: enough single-row units that it outlasts both publishes.
  await submitJob(requester.page, { model: 'mlp-classifier', rows: 4096, unitRows: 1, seed: 21, spotCheckPercent: 0 });
  for (const p of providers)
    await expect
      .poll(async () => Number(await p.page.getByTestId('units-done').textContent()), { timeout: 120_000 })
      .toBeGreaterThanOrEqual(1);

  const v1 = await publishDemo(requester.page);
  await waitAllCurrent(requester.page, v1.hash, 2);
  const v2 = await publishDemo(requester.page, 0.01);
  const view = await waitAllCurrent(requester.page, v2.hash, 2);

  const sent1 = view.versions.find((v) => v.version === v1.version)!.bytesSent;
  const sent2 = view.versions.find((v) => v.version === v2.version)!.bytesSent;
  const relayed = view.versions.map((v) => v.relayedBytes);
  testInfo.annotations.push({
    type: 'weights bytes',
    description: `v1 sent ${sent1}, v2 sent ${sent2} (1/${(sent1 / sent2).toFixed(0)}), relayed by providers ${relayed.join(', ')}`,
  });
  console.log(
    `E2E-WEIGHTS1 bytes: v1 ${sent1}, v2 ${sent2}, ratio 1/${(sent1 / sent2).toFixed(1)}, relayed ${relayed.join(', ')}`,
  );
  expect(sent1).toBeGreaterThan(100_000);
  expect(sent2 * 50).toBeLessThanOrEqual(sent1);
  for (const p of providers) expect(await rehash(p.page)).toBe(v2.hash);
  await screenshot(requester, testInfo, 'requester-weights.png');
  await closeAll([...providers, requester]);
});

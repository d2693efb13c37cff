/** Test-only adversarial provider tabs (web/harness/adversary.html) for e2e/trust.spec.ts. */
import type { Browser, Page, TestInfo } from '@playwright/test';
import { expect } from '@playwright/test';
import type { Tab } from './network';

export type Strategy = 'noise' | 'subtle' | 'stale' | 'copied';

export interface Adversary extends Tab {
  peerId: string;
  wrongSent(): Promise<number>;
}

/** `fraction` 0 makes an honest provider; `backend` pins its compute backend. */
export async function openAdversary(
  browser: Browser,
  base: string,
  strategy: Strategy,
  fraction: number,
  testInfo: TestInfo,
  backend?: 'webgpu' | 'wasm',
): Promise<Adversary> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const page = await context.newPage();
  page.on('pageerror', (error) =>
    testInfo.annotations.push({ type: 'adversary page error', description: error.message }),
  );
  await page.goto(
    `${base}/harness/adversary.html?strategy=${strategy}&fraction=${fraction}&seed=7${backend ? `&backend=${backend}` : ''}`,
  );
  await expect(page.locator('#connection')).toHaveText('open', { timeout: 90_000 });
  await expect(page.locator('#peer-id')).not.toBeEmpty();
  if (backend) await expect(page.locator('#backend')).toHaveText(backend);
  const peerId = (await page.locator('#peer-id').textContent())!;
  return { context, page, peerId, wrongSent: async () => Number(await page.locator('#wrong').textContent()) };
}

/** The job form's redundancy (submitJob leaves it as it is). */
export async function setRedundancy(page: Page, replicas: number): Promise<void> {
  await page.getByTestId('redundancy').fill(String(replicas));
}

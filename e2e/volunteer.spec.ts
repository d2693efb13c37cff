/**
 * Issue 21, the volunteer's side: work limits kept across reloads and shared by
 * every provider tab of one browser, the contribution view, and screenshots of
 * the provider page at desktop and phone widths.
 */
import { test, expect, type Page, type TestInfo } from '@playwright/test';
import { E2E_PORT } from '../playwright.config';

const BASE = `http://localhost:${E2E_PORT}`;

test.describe.configure({ mode: 'serial' });

async function openProviderPage(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  page.on('pageerror', (error) =>
    testInfo.annotations.push({ type: `${name} page error`, description: error.message }),
  );
  await page.goto(`${BASE}/#/provide`);
  await expect(page.getByTestId('connection')).toHaveText('open', { timeout: 90_000 });
  await expect(page.getByTestId('work-limits')).toBeVisible();
}

async function shoot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const path = testInfo.outputPath(name);
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

test('E2E-VOL1: work limits and Pause persist across a reload and are shared by two provider tabs', async ({
  browser,
}, testInfo) => {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const a = await context.newPage();
  const b = await context.newPage();
  await openProviderPage(a, testInfo, 'tab-a');
  await openProviderPage(b, testInfo, 'tab-b');

  // Changed in tab A: tab B follows at once (BroadcastChannel), without a reload.
  await a.getByTestId('limit-threads').selectOption('1');
  await a.getByTestId('limit-duty').fill('50');
  await a.getByTestId('limit-hidden').check();
  await a.getByTestId('pause').click();
  await expect(b.getByTestId('limit-duty-value')).toHaveText('50% of the time');
  await expect(b.getByTestId('limit-threads')).toHaveValue('1');
  await expect(b.getByTestId('limit-hidden')).toBeChecked();
  await expect(b.getByTestId('paused-reason')).toHaveText('paused: by you');
  await expect(b.getByTestId('pause')).toHaveText('Resume');
  await expect(a.getByTestId('provider-log')).toContainText('compute worker restarted', { useInnerText: false });

  // Reloaded: the limits come back from IndexedDB, Pause included.
  await b.reload();
  await expect(b.getByTestId('connection')).toHaveText('open', { timeout: 90_000 });
  await expect(b.getByTestId('limit-duty-value')).toHaveText('50% of the time');
  await expect(b.getByTestId('limit-threads')).toHaveValue('1');
  await expect(b.getByTestId('paused-reason')).toHaveText('paused: by you');
  // The contribution view before any work: no misleading figures or buttons (issue 21 #4).
  await expect(b.getByTestId('contribution-empty')).toBeVisible();
  await expect(b.getByTestId('export-receipts')).toHaveCount(0);
  await expect(b.locator('.sparkline figcaption')).toHaveText('rows per second · no work yet');
  await expect(b.getByTestId('current-job')).toHaveText('paused');
  await expect(b.getByTestId('battery-state')).not.toHaveText('');
  await expect(b.getByTestId('backend-now')).toHaveText(/wasm|webgpu/);

  // Resume from the reloaded tab: the other tab resumes too.
  await b.getByTestId('pause').click();
  await expect(a.getByTestId('pause')).toHaveText('Pause');
  await expect(a.getByTestId('paused-reason')).toHaveCount(0);

  // Another page of the app says the tab is still providing (issue 21 #7).
  await a.goto(`${BASE}/#/request`);
  await expect(a.getByTestId('providing-indicator')).toBeVisible();

  for (const [width, height, label] of [
    [1200, 900, 'desktop'],
    [390, 844, 'phone'],
  ] as const) {
    await b.bringToFront();
    await b.setViewportSize({ width, height });
    await b.getByText('Activity').click();
    await shoot(b, testInfo, `provider-${label}.png`);
    await b.getByText('Activity').click();
    await a.bringToFront();
    await a.setViewportSize({ width, height });
    await shoot(a, testInfo, `request-with-indicator-${label}.png`);
  }
  await context.close();
});

test('E2E-VOL2: a signed display name, and the key exported encrypted and imported with its name in another browser', async ({
  browser,
}, testInfo) => {
  const first = await browser.newContext({ viewport: { width: 1200, height: 900 }, acceptDownloads: true });
  const a = await first.newPage();
  await openProviderPage(a, testInfo, 'vol2-a');
  const keyA = await a.getByTestId('provider-id').textContent();

  // A name that imitates another script is explained in the app, not sent.
  await a.getByTestId('display-name-input').fill('p\u0430ypal');
  await a.getByTestId('display-name-save').click();
  await expect(a.getByTestId('display-name-error')).toContainText('several scripts');
  await a.getByTestId('display-name-input').fill('Ada Lovelace');
  await a.getByTestId('display-name-save').click();
  await expect(a.getByTestId('display-name-shown')).toHaveText('Ada Lovelace');
  await expect(a.getByTestId('display-name-error')).toHaveCount(0);
  await a.reload();
  await expect(a.getByTestId('connection')).toHaveText('open', { timeout: 90_000 });
  await expect(a.getByTestId('display-name-shown')).toHaveText('Ada Lovelace');

  // Export, encrypted: a short passphrase is refused with what to do.
  await expect(a.getByTestId('identity-warning')).toContainText('Clearing site data');
  await a.getByTestId('export-pass').fill('short');
  await a.getByTestId('export-identity').click();
  await expect(a.getByTestId('identity-backup-outcome')).toContainText('at least 8 characters');
  await a.getByTestId('export-pass').fill('correct horse battery');
  const download = a.waitForEvent('download');
  await a.getByTestId('export-identity').click();
  const file = testInfo.outputPath('basilica-key.json');
  await (await download).saveAs(file);
  await expect(a.getByTestId('identity-backup-outcome')).toContainText('Exported');

  // Another browser: a wrong passphrase changes nothing; the right one brings the key over.
  const second = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const b = await second.newPage();
  await openProviderPage(b, testInfo, 'vol2-b');
  const keyB = await b.getByTestId('provider-id').textContent();
  expect(keyB).not.toBe(keyA);
  await b.getByTestId('import-file').setInputFiles(file);
  await b.getByTestId('import-pass').fill('wrong passphrase');
  await b.getByTestId('import-identity').click();
  await expect(b.getByTestId('identity-backup-outcome')).toContainText('passphrase does not open this file');
  await shoot(b, testInfo, 'identity-import-error-phone.png');
  await b.reload();
  await expect(b.getByTestId('connection')).toHaveText('open', { timeout: 90_000 });
  await expect(b.getByTestId('provider-id')).toHaveText(keyB!);
  await b.getByTestId('import-file').setInputFiles(file);
  await b.getByTestId('import-pass').fill('correct horse battery');
  await b.getByTestId('import-identity').click();
  await expect(b.getByTestId('identity-backup-outcome')).toContainText('Imported key');
  await expect(b.getByTestId('identity-backup-outcome')).toContainText('Ada Lovelace');
  await b.getByTestId('reload-after-import').click();
  await expect(b.getByTestId('connection')).toHaveText('open', { timeout: 90_000 });
  await expect(b.getByTestId('provider-id')).toHaveText(keyA!.replace(' (new key)', ''));
  // The display name came with the key, and the server shows it for this key (signed again by this browser).
  await expect(b.getByTestId('display-name-shown')).toHaveText('Ada Lovelace');
  await shoot(a, testInfo, 'identity-and-name-desktop.png');
  await shoot(b, testInfo, 'identity-and-name-phone.png');
  await first.close();
  await second.close();
});

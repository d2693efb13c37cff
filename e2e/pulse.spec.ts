/**
 * PULSE18: the WebGPU and Web Worker diff paths produce byte-identical patches
 * to the CPU path, in real Chromium on SwiftShader WebGPU. No adapter is a
 * failure, not a skip: the point of the test is the GPU path.
 */
import { expect, test, type Page } from '@playwright/test';
import type { PulseHarnessReport } from '../web/harness/pulse';

async function runHarness(
  page: Page,
  options: { maxChunkElements?: number; maxGroupsPerDimension?: number },
): Promise<PulseHarnessReport> {
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  await page.goto('/harness/pulse.html');
  await page.waitForFunction(() => window.pulseHarness !== undefined);
  return page.evaluate((o) => window.pulseHarness!.run(o), options);
}

function expectIdentical(report: PulseHarnessReport): void {
  expect(report.error, 'WebGPU and the worker must be available on the SwiftShader Chromium').toBeNull();
  expect(report.adapter, 'a WebGPU adapter').not.toBeNull();
  expect(report.cases.length).toBeGreaterThanOrEqual(13);
  // The fixtures really change things (and really don't, where they shouldn't).
  expect(report.cases.find((c) => c.name === 'bf16-1%')!.changes).toBeGreaterThan(0);
  expect(report.cases.find((c) => c.name === 'bf16-none')!.changes).toBe(0);
  const all = report.cases.find((c) => c.name === 'bf16-all')!;
  expect(all.changes).toBe(all.elements);
  for (const c of report.cases) {
    expect(c.applied, `${c.name}: CPU patch applies`).toBe(true);
    expect(c.worker, `${c.name}: worker patch == CPU patch`).toBe(c.cpu);
    expect(c.gpu, `${c.name}: WebGPU patch == CPU patch`).toBe(c.cpu);
  }
}

test.describe('PULSE diff in the browser', () => {
  test('PULSE18: WebGPU diff == worker diff == CPU diff, bit for bit', async ({ page }) => {
    const report = await runHarness(page, {});
    console.log(
      `adapter ${JSON.stringify(report.adapter)}, workgroup ${report.workgroupSize}, chunk ${report.chunkElements}`,
    );
    expectIdentical(report);
  });

  test('PULSE18: chunked tensors and 2-D dispatch give the same patches', async ({ page }) => {
    // Tiny chunks (2 workgroups) and 3 workgroups per dimension force both code paths at SwiftShader sizes.
    const report = await runHarness(page, { maxChunkElements: 512, maxGroupsPerDimension: 3 });
    expect(report.chunkElements).toBeLessThanOrEqual(512);
    expectIdentical(report);
  });
});

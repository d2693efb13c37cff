/**
 * GRAIL in real Chromium against the real server (issue 22): a requester's RL tab warms a tiny policy up
 * on the requester's own examples (a JSONL upload of 2-digit sums, with a short warm-up so RL has room),
 * then volunteers roll it out and the tab verifies every rollout, learns with GRPO and sends each new
 * version as a PULSE patch.
 *
 * E2E-RL1: two honest volunteers and a third tab sending hand-written (correct!) answers. The cheat is
 * refused from its first batch (the tokens are not what the seed draws), the honest ones never are, every
 * honest volunteer ends on the latest version's hash, accepted rollouts earn receipts the volunteers'
 * pages credit, and mean reward over the last two steps exceeds the first two by at least REWARD_MARGIN.
 * E2E-RL2: a volunteer closed mid-step costs only its rollouts, and a requester reload mid-run resumes
 * from the last completed step.
 * E2E-RL3: one volunteer on WebGPU (SwiftShader), one on WASM: the WASM trainer accepts both.
 */
import { expect, type Page, test } from '@playwright/test';
import { expectRelayed } from './support/relay';
import { hash32 } from '@shared/jobs/rl';
import { mulberry32 } from '@shared/random';
import { E2E_PORT } from '../playwright.config';
import { openProvider } from './support/network';

const BASE = `http://localhost:${E2E_PORT}`;
/** In Node the same job rose from ~0.2 over its first two steps to ~0.65 over its last two (three runs). */
const REWARD_MARGIN = 0.25;
/** The form's seed: it also splits the JSONL. */
const SEED = 1;

/**
 * Sums of two 2-digit numbers, answers written ones digit first (as the built-in addition task): three
 * that the job's seeded split (jsonl.ts: a prompt is held out when its hash says so) keeps for training
 * and one it holds out. Three training prompts let every step sample each of them many times, so a
 * step's mean reward measures the policy, not which prompts the step drew.
 */
function sumsJsonl(): string {
  const u = mulberry32(5);
  const train: string[] = [];
  const heldOut: string[] = [];
  while (train.length < 3 || heldOut.length < 1) {
    const a = Math.floor(u() * 100);
    const b = Math.floor(u() * 100);
    const s = String(a + b).padStart(3, '0');
    const pad = (x: number) => String(x).padStart(2, '0');
    const prompt = `${pad(a)}+${pad(b)}=`;
    const line = JSON.stringify({ prompt, answer: [...s].reverse().join('') });
    const isHeldOut = hash32([SEED, prompt]) / 2 ** 32 < 0.1;
    if (isHeldOut && heldOut.length < 1) heldOut.push(line);
    if (!isHeldOut && train.length < 3) train.push(line);
  }
  return [...train, ...heldOut].join('\n');
}

async function startJob(page: Page, fields: Record<string, string>): Promise<void> {
  page.on('pageerror', (e) => console.error(`requester page error: ${e.message}`));
  await page.goto(`${BASE}/#/rl`);
  await expect(page.getByTestId('rl-view')).toHaveAttribute('data-loaded', 'true');
  await page.getByTestId('rl-task').selectOption('jsonl');
  await page
    .getByTestId('rl-jsonl')
    .setInputFiles({ name: 'sums.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(sumsJsonl()) });
  for (const [id, v] of Object.entries({
    'rl-lr': '1e-3',
    'rl-prompts': '4',
    'rl-samples': '16',
    'rl-warmup-steps': '10',
    'rl-warmup-target': '1',
    'rl-seed': String(SEED),
    ...fields,
  }))
    await page.getByTestId(id).fill(v);
  await page.getByTestId('rl-submit').click();
  await expect(page.getByTestId('rl-job')).toHaveCount(1);
}

/** Mean reward of every step, in order (a step with no accepted rollout has none: NaN). */
const rewards = async (page: Page) =>
  ((await page.getByTestId('rl-job').getAttribute('data-rewards')) ?? '')
    .split(',')
    .map((x) => (x === '' ? Number.NaN : Number(x)));

test('E2E-RL1: two volunteers and a cheat run 16 GRPO steps; the cheat is refused from its first batch, reward rises, and every volunteer ends on the latest version', async ({
  browser,
}, testInfo) => {
  test.setTimeout(240_000);
  const honest = [
    await openProvider(browser, BASE, 'provider-1', testInfo),
    await openProvider(browser, BASE, 'provider-2', testInfo),
  ];
  const cheatContext = await browser.newContext();
  const cheat = await cheatContext.newPage();
  cheat.on('console', (m) => m.type() === 'error' && console.log(`cheat: ${m.text()}`));
  await cheat.goto(`${BASE}/harness/adversary.html?fraction=0&rl=hand-written`);
  await expect(cheat.locator('#connection')).toHaveText('open', { timeout: 90_000 });
  const cheatId = (await cheat.locator('#peer-id').textContent())!;

  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const steps = 16;
  await startJob(page, { 'rl-steps': String(steps), 'rl-providers': '3' });
  const job = page.getByTestId('rl-job');
  const t0 = Date.now();
  // The volunteer's page says what it does for the job.
  await expect(honest[0]!.page.getByTestId('rl-activity')).toHaveAttribute('data-rollouts', /^[1-9]/, {
    timeout: 90_000,
  });
  await expect(job)
    .toHaveAttribute('data-status', 'done', { timeout: 200_000 })
    .catch(async (e) => {
      console.log(`requester card: ${await job.textContent()}`);
      throw e;
    });
  console.log(
    `${steps} steps in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${await job.getByTestId('rl-summary').textContent()}`,
  );

  // The cheat's first batch was refused.
  const row = job.locator(`[data-testid="rl-provider"][data-peer="${cheatId}"]`);
  console.log(`cheat: ${await row.textContent()}`);
  const first = await row.getAttribute('data-first-round');
  expect(Number(first)).toBeGreaterThanOrEqual(0);
  expect(await row.getAttribute('data-first-refused')).toBe(first);
  // Its hand-written answers pass only where they are exactly what the policy samples under the seed (then
  // they are honest work); refused in two rounds, it is dropped from the job.
  await expect(row).toContainText('dropped');
  // The honest volunteers: never refused, and on the latest version.
  const hash = await job.getAttribute('data-hash');
  expect(hash).toMatch(/^[0-9a-f]{32}$/);
  let honestRows = 0;
  for (const r of await job.getByTestId('rl-provider').all()) {
    if ((await r.getAttribute('data-peer')) === cheatId) continue;
    honestRows++;
    console.log(`volunteer: ${await r.textContent()}`);
    expect(await r.getAttribute('data-refused')).toBe('0');
    expect(Number(await r.getAttribute('data-accepted'))).toBeGreaterThan(0);
    await expect(r).toHaveAttribute('data-holds', hash!, { timeout: 10_000 });
  }
  expect(honestRows).toBe(2);
  // New versions travelled volunteer to volunteer: the requester uploads each one once (relay.ts), and
  // volunteers the relay missed, if any, got it from the requester after the deadline.
  await expectRelayed(
    job,
    steps,
    honest.map((t) => t.page),
    'rl-activity',
  );

  // Accepted rollouts earned signed receipts, which the volunteers' pages credit.
  const receipts = await job.getAttribute('data-receipts');
  expect(Number(receipts)).toBeGreaterThan(0);
  // …and the server's log took every one (it checks each against the pairing, the job's units and a FLOP cap).
  await expect(job).toHaveAttribute('data-receipts-logged', receipts!, { timeout: 10_000 });
  for (const t of honest) await expect(t.page.getByTestId('lifetime-flops')).not.toHaveText('—', { timeout: 10_000 });

  // Reward rose.
  const shown = await rewards(page);
  console.log(`mean reward per step: ${shown.map((r) => r.toFixed(3)).join(' ')}`);
  expect(shown.length).toBe(steps);
  const firstTwo = (shown[0]! + shown[1]!) / 2;
  const lastTwo = (shown.at(-1)! + shown.at(-2)!) / 2;
  expect(lastTwo - firstTwo).toBeGreaterThanOrEqual(REWARD_MARGIN);

  for (const t of honest) await t.context.close();
  await cheatContext.close();
  await context.close();
});

test('E2E-RL2: a volunteer closed mid-step costs only its rollouts, and a requester reload resumes from the last step', async ({
  browser,
}, testInfo) => {
  test.setTimeout(240_000);
  const tabs = [
    await openProvider(browser, BASE, 'provider-1', testInfo),
    await openProvider(browser, BASE, 'provider-2', testInfo),
  ];
  const context = await browser.newContext();
  const page = await context.newPage();
  const steps = 10;
  await startJob(page, { 'rl-steps': String(steps), 'rl-providers': '2' });
  const job = () => page.getByTestId('rl-job');
  const done = async () => Number(await job().getAttribute('data-steps'));

  await expect.poll(done, { timeout: 120_000, intervals: [50] }).toBeGreaterThanOrEqual(2);
  await tabs[1]!.context.close();
  const closedAt = await done();
  await expect
    .poll(done, { timeout: 60_000 })
    .toBeGreaterThanOrEqual(closedAt + 2)
    .catch(async (e) => {
      console.log(`requester: ${await job().textContent()}`);
      throw e;
    });

  const beforeReload = await done();
  expect(beforeReload).toBeLessThan(steps);
  await page.reload();
  await expect(page.getByTestId('rl-view')).toHaveAttribute('data-loaded', 'true');
  await expect(job()).toHaveAttribute('data-status', 'done', { timeout: 150_000 });
  console.log(`reloaded after step ${beforeReload}; ${await job().getByTestId('rl-summary').textContent()}`);
  // Every step ran, none twice: the version count is the step count.
  expect(await done()).toBe(steps);
  await expect(job()).toHaveAttribute('data-version', String(steps));
  const hash = await job().getAttribute('data-hash');
  const rows = await job().getByTestId('rl-provider').all();
  for (const r of rows) {
    console.log(`volunteer after the reload: ${await r.textContent()}`);
    expect(await r.getAttribute('data-refused')).toBe('0');
  }
  // The volunteer still open followed the job across the reload onto its last version.
  const live = job().locator(`[data-testid="rl-provider"][data-holds="${hash}"]`);
  await expect(live).toHaveCount(1, { timeout: 10_000 });
  await tabs[0]!.context.close();
  await context.close();
});

test('E2E-RL3: a volunteer rolling out on WebGPU (SwiftShader) beside one on WASM is never refused and ends on the latest version', async ({
  browser,
}, testInfo) => {
  test.setTimeout(240_000);
  const wasm = await openProvider(browser, BASE, 'provider-wasm', testInfo);
  const gpuContext = await browser.newContext();
  const gpu = await gpuContext.newPage();
  gpu.on('console', (m) => console.log(`webgpu volunteer: ${m.text()}`));
  await gpu.goto(`${BASE}/harness/adversary.html?fraction=0&backend=webgpu`);
  await expect(gpu.locator('#connection')).toHaveText('open', { timeout: 90_000 });
  const gpuId = (await gpu.locator('#peer-id').textContent())!;

  const context = await browser.newContext();
  const page = await context.newPage();
  const steps = 6;
  await startJob(page, { 'rl-steps': String(steps), 'rl-providers': '2', 'rl-prompts': '1', 'rl-samples': '2' });
  const job = page.getByTestId('rl-job');
  await expect(job)
    .toHaveAttribute('data-status', 'done', { timeout: 200_000 })
    .catch(async (e) => {
      console.log(`requester card: ${await job.textContent()}`);
      throw e;
    });
  const hash = await job.getAttribute('data-hash');
  const row = job.locator(`[data-testid="rl-provider"][data-peer="${gpuId}"]`);
  console.log(`webgpu volunteer: ${await row.textContent()}`);
  // How far SwiftShader's WebGPU and the trainer's WASM disagree, within the tolerances the checks allow.
  for (const r of await job.getByTestId('rl-provider').all())
    console.log(
      `${(await r.locator('td').nth(1).textContent())!}: largest log-prob gap ${await r.getAttribute('data-logprob-gap')} nats, ${await r.getAttribute('data-boundary')} tokens at a CDF boundary`,
    );
  await expect(row.locator('td').nth(1)).toHaveText('webgpu');
  for (const r of await job.getByTestId('rl-provider').all()) {
    expect(await r.getAttribute('data-refused')).toBe('0');
    expect(Number(await r.getAttribute('data-accepted'))).toBeGreaterThan(0);
    await expect(r).toHaveAttribute('data-holds', hash!, { timeout: 10_000 });
  }
  await wasm.context.close();
  await gpuContext.close();
  await context.close();
});

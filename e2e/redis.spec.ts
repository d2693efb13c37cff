/**
 * Two server instances sharing one real redis-server (SPEC SCALE*): a provider
 * on instance A and a requester on instance B complete a job; then A crashes
 * mid-job and its working provider goes with it. A second provider, paused on A
 * until then and listing A then B, fails over to B in the browser (CLIENT8), is
 * paired through B once it resumes, and finishes the job with nothing lost.
 * Ports: E2E_PORT + 27 and + 28 for the instances, + 29 for Redis (the top of this spec's +20..+29 range).
 */
import { test, expect } from '@playwright/test';
import { E2E_PORT } from '../playwright.config';
import { startRedis, type RedisProcess } from '../tests/support/redis-server';
import {
  downloadResult,
  expectClose,
  openProvider,
  openRequester,
  referenceOutput,
  startServer,
  submitJob,
  waitForJobDone,
  type ServerProcess,
} from './support/network';

const MODEL = 'mlp-classifier';
const PORT_A = E2E_PORT + 27;
const PORT_B = E2E_PORT + 28;
const PORT_REDIS = E2E_PORT + 29;

let redis: RedisProcess | undefined;
const servers: ServerProcess[] = [];
test.afterEach(async () => {
  for (const server of servers.splice(0)) await server.kill();
  await redis?.stop();
});

test('E2E-SCALE1: across two instances on Redis a job completes; after A crashes a provider paired through B finishes the next', async ({
  browser,
}, testInfo) => {
  // ~60–90 s on an idle machine; the rest is headroom for provider pages booting on a loaded CI box.
  test.setTimeout(150_000);
  redis = await startRedis(PORT_REDIS);
  // One prefix for both: they are one network.
  const env = { REDIS_PREFIX: `e2e-${Date.now()}:` };
  // Instances of one network accept each other's pages, so a client can fail over between them.
  const args = ['--redis', redis.url, '--origins', `http://localhost:${PORT_A},http://localhost:${PORT_B}`];
  const [a, b] = await Promise.all([
    startServer(PORT_A, { args, env, logFile: testInfo.outputPath('a.log') }),
    startServer(PORT_B, { args, env, logFile: testInfo.outputPath('b.log') }),
  ]);
  servers.push(a!, b!);

  const signal = `?signal=ws://localhost:${PORT_A}/ws,ws://localhost:${PORT_B}/ws`;
  const [onA, standby, requester] = await Promise.all([
    openProvider(browser, a!.url, 'provider-on-A', testInfo),
    // Served by B but signaling through A while A lives; paused, so it takes no work before the crash.
    openProvider(browser, b!.url, 'standby-provider', testInfo, signal).then(async (tab) => {
      await tab.page.getByTestId('pause').click();
      await expect(tab.page.getByTestId('pause')).toHaveText('Resume');
      return tab;
    }),
    openRequester(browser, b!.url, testInfo),
  ]);

  const first = { model: MODEL, rows: 32, unitRows: 4, seed: 21 };
  const firstCard = await submitJob(requester.page, first);
  await waitForJobDone(firstCard, 60_000);
  // Every row is checked against the reference: nothing lost. (The card's "done" count is not used: on main it
  // can stay below the total after a job finishes, e.g. E2E-NET1 reads 30–36 of 64 there.)
  expectClose(await downloadResult(firstCard), referenceOutput(MODEL, first.rows, first.seed));
  expect(Number(await standby.page.getByTestId('units-done').textContent())).toBe(0);

  // Enough units that the provider on A cannot finish them all before A is killed (results are written in
  // batches now, so a 64-unit job could end first and leave the standby nothing to do).
  const second = { model: MODEL, rows: 2048, unitRows: 4, seed: 22 };
  const doneBefore = Number(await onA.page.getByTestId('units-done').textContent());
  const card = await submitJob(requester.page, second);
  await expect
    .poll(async () => Number(await onA.page.getByTestId('units-done').textContent()), { timeout: 30_000 })
    .toBeGreaterThanOrEqual(doneBefore + 3);
  await expect(card.getByTestId('job-status')).toHaveText('running');

  // A crashes and its working provider's tab goes with it: the job can only go on through B.
  await a!.kill();
  await onA.context.close();
  // The standby lost A: it fails over to B and, resumed, is paired there (new pairing, new WebRTC handshake).
  await expect(standby.page.getByTestId('connection')).toHaveText('open', { timeout: 20_000 });
  await standby.page.getByTestId('pause').click();
  await waitForJobDone(card, 60_000);
  await expect.poll(async () => Number(await standby.page.getByTestId('units-done').textContent())).toBeGreaterThan(0);
  expectClose(await downloadResult(card), referenceOutput(MODEL, second.rows, second.seed));

  const health = (await (await fetch(`${b!.url}/healthz`)).json()) as { shared: { kind: string; up: boolean } };
  expect(health.shared).toMatchObject({ kind: 'redis', up: true });
  await standby.context.close();
  await requester.context.close();
});

/**
 * The framed transport over real WebRTC: two Chromium pages in separate
 * browser contexts, connected through simple-peer, handshake blobs relayed
 * by this test (no signaling server).
 */
import { expect, test, type Page } from '@playwright/test';
import { connectLink, openHarnessPair } from '../bench/lib/transport-pages';

const KiB = 1024;
const MiB = 1024 * KiB;

let a: Page;
let b: Page;

test.beforeAll(async ({ browser }) => {
  a = await (await browser.newContext()).newPage();
  b = await (await browser.newContext()).newPage();
  await openHarnessPair(a, b, test.info().project.use.baseURL!);
  await connectLink(a, b, 'main', 'framed');
});

test.afterAll(async () => {
  await a?.context().close();
  await b?.context().close();
});

async function receivedOn(page: Page, stream: number) {
  const all = await page.evaluate(() => window.transportHarness.received());
  return all.filter((entry) => entry.stream === stream);
}

test('TR1 messages of 0 B, 1 B, 64 KiB ± 1 and 5 MiB arrive intact between two pages', async () => {
  const sizes = [0, 1, 64 * KiB - 1, 64 * KiB, 64 * KiB + 1, 5 * MiB];
  const sent: string[] = [];
  for (const [i, size] of sizes.entries()) {
    sent.push(
      await a.evaluate(([s, n, seed]) => window.transportHarness.send('main', s, n, seed), [3, size, i + 1] as const),
    );
  }
  await expect.poll(async () => (await receivedOn(b, 3)).length).toBe(sizes.length);
  const got = await receivedOn(b, 3);
  expect(got.map((m) => m.length)).toEqual(sizes);
  expect(got.map((m) => m.sha256)).toEqual(sent);
  // And the other way.
  const back = await b.evaluate(() => window.transportHarness.send('main', 3, 5 * 1024 * 1024, 99));
  await expect.poll(async () => (await receivedOn(a, 3)).map((m) => m.sha256)).toEqual([back]);
});

test('TR2 a control message is not stalled behind a 32 MiB transfer on another stream', async () => {
  await a.evaluate(() => window.transportHarness.startBulk('main', 1, 32 * 1024 * 1024, 5));
  // Wait until the bulk message is streaming into b, so control must overtake it.
  await expect
    .poll(() => b.evaluate(() => window.transportHarness.stats('main').framesReceived), { timeout: 60_000 })
    .toBeGreaterThan(40);
  const control = await a.evaluate(() => window.transportHarness.send('main', 0, 200, 6));
  await a.evaluate(() => window.transportHarness.awaitBulk('main', 1));
  await expect.poll(async () => (await receivedOn(b, 1)).length, { timeout: 120_000 }).toBe(1);
  const all = await b.evaluate(() => window.transportHarness.received());
  const controlAt = all.findIndex((m) => m.stream === 0 && m.sha256 === control);
  const bulkAt = all.findIndex((m) => m.stream === 1);
  expect(controlAt).toBeGreaterThanOrEqual(0);
  expect(controlAt).toBeLessThan(bulkAt);
  expect(all[bulkAt]!.sha256).toBe(await a.evaluate(() => window.transportHarness.digest(32 * 1024 * 1024, 5)));
});

test('TR3 a corrupted chunk is reported as an integrity error on that message; the channel carries on', async () => {
  const messageId = 0x7fff_0001;
  await a.evaluate(([id]) => window.transportHarness.sendCorrupted('main', 9, 300 * 1024, 11, 2, id), [
    messageId,
  ] as const);
  const after = await a.evaluate(() => window.transportHarness.send('main', 9, 1000, 12));
  await expect.poll(async () => (await receivedOn(b, 9)).map((m) => m.sha256)).toEqual([after]);
  const errors = await b.evaluate(() => window.transportHarness.errors());
  expect(errors).toEqual([
    expect.objectContaining({ name: 'IntegrityError', code: 'integrity', stream: 9, messageId }),
  ]);
});

test('TR4 the FramedChannel contract holds over real data channels', async () => {
  const results = await a.evaluate(() => window.transportHarness.runContract());
  expect(results.length).toBeGreaterThan(0);
  for (const result of results) expect(result, result.name).toEqual({ name: result.name, ok: true });
});

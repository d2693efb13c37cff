/**
 * npm run bench:transport [-- --quick]
 *
 * Moves data between two Chromium pages (separate browser contexts, real
 * WebRTC over loopback) through the FramedChannel and, in the same run,
 * through a raw RTCDataChannel sending 64 KiB messages with naive
 * bufferedAmount waiting (same thresholds). Runs alternate so drift on this
 * shared machine hits both alike. Prints medians and the framed/raw ratio
 * (goal ≥ 0.9) and saves JSON to bench/results/.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { BUFFERED_AMOUNT_LOW_THRESHOLD, HIGH_WATER_MARK_BYTES, MAX_FRAME_BYTES } from '@shared/transport';
import { buildPages, launchChromium, serveStatic } from './lib/browser';
import { connectLink, openHarnessPair } from './lib/transport-pages';

const quick = process.argv.includes('--quick');
const MiB = 1024 * 1024;
const TOTAL_BYTES = (quick ? 16 : 64) * MiB;
const REPEATS = quick ? 3 : 5;
/** Framed messages are model-sized: 8 MiB each, so a run is several multi-frame messages. */
const FRAMED_MESSAGE_BYTES = Math.min(8 * MiB, TOTAL_BYTES);
const RAW_MESSAGE_BYTES = 64 * 1024;
const BULK_STREAM = 1;

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);

const dir = await buildPages('dist/bench-transport', ['harness/transport.html']);
const server = await serveStatic(dir);
const browser = await launchChromium();
try {
  const a = await (await browser.newContext()).newPage();
  const b = await (await browser.newContext()).newPage();
  await openHarnessPair(a, b, server.url);
  await connectLink(a, b, 'framed', 'framed');
  await connectLink(a, b, 'raw', 'raw');

  const framedRun = async (): Promise<number> => {
    const count = TOTAL_BYTES / FRAMED_MESSAGE_BYTES;
    const received = b.evaluate(([s, n]) => window.transportHarness.expectFramed('framed', s, n), [
      BULK_STREAM,
      count,
    ] as const);
    const startedAt = await a.evaluate(
      ([s, n, size]) => window.transportHarness.sendFramedBench('framed', s, n, size),
      [BULK_STREAM, count, FRAMED_MESSAGE_BYTES] as const,
    );
    const { lastAt, bytes } = await received;
    if (bytes !== TOTAL_BYTES) throw new Error(`framed run moved ${bytes} bytes, expected ${TOTAL_BYTES}`);
    return mbps(bytes, lastAt - startedAt);
  };
  const rawRun = async (): Promise<number> => {
    await b.evaluate(() => window.transportHarness.resetRaw());
    const received = b.evaluate((total) => window.transportHarness.expectRaw(total), TOTAL_BYTES);
    const startedAt = await a.evaluate(
      ([total, size, high, low]) => window.transportHarness.sendRawBench('raw', total, size, high, low),
      [TOTAL_BYTES, RAW_MESSAGE_BYTES, HIGH_WATER_MARK_BYTES, BUFFERED_AMOUNT_LOW_THRESHOLD] as const,
    );
    return mbps(TOTAL_BYTES, (await received) - startedAt);
  };

  // One small warm-up of each (JIT, SCTP congestion window), not counted.
  await b.evaluate(() => window.transportHarness.resetRaw());
  await Promise.all([
    b.evaluate(() => window.transportHarness.expectRaw(4 * 1024 * 1024)),
    a.evaluate(([h, l]) => window.transportHarness.sendRawBench('raw', 4 * 1024 * 1024, 65536, h, l), [
      HIGH_WATER_MARK_BYTES,
      BUFFERED_AMOUNT_LOW_THRESHOLD,
    ] as const),
  ]);
  await Promise.all([
    b.evaluate(() => window.transportHarness.expectFramed('framed', 1, 1)),
    a.evaluate(() => window.transportHarness.sendFramedBench('framed', 1, 1, 4 * 1024 * 1024)),
  ]);

  const framed: number[] = [];
  const raw: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    // Alternate which goes first, so neither always runs on a warmer or cooler machine.
    if (i % 2 === 0) {
      framed.push(await framedRun());
      raw.push(await rawRun());
    } else {
      raw.push(await rawRun());
      framed.push(await framedRun());
    }
    console.log(
      `run ${i + 1}/${REPEATS}: framed ${framed.at(-1)!.toFixed(1)} MB/s, raw ${raw.at(-1)!.toFixed(1)} MB/s`,
    );
  }

  const result = {
    bench: 'transport',
    date: new Date().toISOString(),
    quick,
    totalBytes: TOTAL_BYTES,
    repeats: REPEATS,
    framedMessageBytes: FRAMED_MESSAGE_BYTES,
    rawMessageBytes: RAW_MESSAGE_BYTES,
    frameBytes: MAX_FRAME_BYTES,
    highWaterMark: HIGH_WATER_MARK_BYTES,
    lowWaterMark: BUFFERED_AMOUNT_LOW_THRESHOLD,
    framedMBps: framed,
    rawMBps: raw,
    framedMedianMBps: median(framed),
    rawMedianMBps: median(raw),
    ratio: median(framed) / median(raw),
    chromium: browser.version(),
  };
  console.log(
    `\nframed ${result.framedMedianMBps.toFixed(1)} MB/s  raw ${result.rawMedianMBps.toFixed(1)} MB/s  ratio ${result.ratio.toFixed(3)} (goal ≥ 0.9)  [${TOTAL_BYTES / MiB} MiB × ${REPEATS} each, medians]`,
  );
  const out = resolve(import.meta.dirname, 'results');
  await mkdir(out, { recursive: true });
  const file = resolve(out, `transport-${result.date.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(result, null, 2) + '\n');
  console.log(`saved ${file}`);
} finally {
  await browser.close();
  await server.close();
}

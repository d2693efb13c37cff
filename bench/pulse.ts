/**
 * bench:pulse — PULSE against the published reference design and the entropy
 * bound on a seeded corpus. `--quick` uses a smaller model (1.3 MB instead of 10.5),
 * `--json` prints one JSON object per case. Results also go to bench/results/.
 *
 * Throughput is MB of dense weights (the full model size) per second, median
 * over repeats. Encode = find changes + encode + hash the new model; decode =
 * decode + apply + check the result hash. The receiver's base hash is known
 * from its cache in both designs.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { init as initZstd } from '@bokuweb/zstd-wasm';
import { apply, decode, diff, encode, hashModel, type Model } from '../shared/src/pulse/index';
import { modelsBitEqual } from '../shared/src/pulse/testing';
import { boundBytes } from './pulse/bound';
import { buildCorpus, FULL_SIZE, QUICK_SIZE, type CorpusCase } from './pulse/corpus';
import { decodeReference, encodeReference } from './pulse/reference';

interface CaseResult {
  case: string;
  changedFraction: number;
  fullBytes: number;
  referenceBytes: number;
  pulseBytes: number;
  boundBytes: number;
  /** The same bound with deltas measured by the Chao–Shen estimator (bound.ts): the plug-in one is biased low when most deltas are unique. */
  coverageBoundBytes: number;
  deflatedPulseBytes: number;
  ratioToFull: number;
  ratioToReference: number;
  overBound: number;
  overCoverageBound: number;
  encodeMBps: number;
  decodeMBps: number;
  referenceEncodeMBps: number;
  referenceDecodeMBps: number;
  bitExact: boolean;
}

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const json = args.has('--json');
/**
 * Interleaved repeats: 15 at full size (with 9, medians on the shared 2-core
 * box moved by ±15% between runs), 101 at the quick size, whose sub-
 * millisecond timings are the most exposed to load from other processes.
 * Three runs each, bf16 1% encode/decode ratio to the reference: 15 repeats
 * 0.91/0.91, 0.89/0.83, 0.89/0.94; 101 repeats 1.03/0.96, 1.06/0.93,
 * 1.05/0.99. A quick run still takes ~15 s.
 */
const repeats = quick ? 101 : 15;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Times several functions with their repeats interleaved (a, b, c, a, b, c, …),
 * so load from other processes on the shared box hits PULSE and the reference
 * alike instead of whichever happened to run during a spike.
 */
async function timedTogether(fns: (() => Promise<unknown>)[]): Promise<{ value: unknown; ms: number[] }[]> {
  const out = [];
  for (const fn of fns) out.push({ value: await fn(), ms: [] as number[] }); // warm-up: JIT and WASM instantiation are not what we measure
  for (let r = 0; r < repeats; r++) {
    for (const [i, fn] of fns.entries()) {
      const t0 = performance.now();
      out[i]!.value = await fn();
      out[i]!.ms.push(performance.now() - t0);
    }
  }
  return out;
}

function denseBytes(m: Model): number {
  return m.tensors.reduce((s, t) => s + t.data.byteLength, 0);
}

function changedCount(base: Model, next: Model): { changed: number; total: number } {
  let changed = 0;
  let total = 0;
  next.tensors.forEach((t, i) => {
    const b = base.tensors[i]!.data;
    total += t.data.length;
    for (let j = 0; j < t.data.length; j++) if (b[j] !== t.data[j]) changed++;
  });
  return { changed, total };
}

async function runCase(c: CorpusCase): Promise<CaseResult> {
  const fullBytes = denseBytes(c.next);
  const mb = fullBytes / 1e6;
  const baseHash = await hashModel(c.base);

  const pulseBytes = encode(await diff(c.base, c.next, { baseHash }));
  const refBytes = await encodeReference(c.base, c.next);
  const [enc, refEnc, dec, refDec] = await timedTogether([
    async () => encode(await diff(c.base, c.next, { baseHash })),
    () => encodeReference(c.base, c.next),
    () => apply(c.base, decode(pulseBytes), { baseHash }),
    () => decodeReference(c.base, refBytes),
  ]);
  if (enc === undefined || refEnc === undefined || dec === undefined || refDec === undefined) throw new Error('unreachable');

  const { changed, total } = changedCount(c.base, c.next);
  const bound = boundBytes(c.base, c.next);
  const coverageBound = boundBytes(c.base, c.next, 'coverage');
  const mbps = (ms: number[]): number => Math.round((mb / (median(ms) / 1000)) * 10) / 10;
  const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;
  return {
    case: c.name,
    changedFraction: round(changed / total, 5),
    fullBytes,
    referenceBytes: refBytes.length,
    pulseBytes: pulseBytes.length,
    boundBytes: bound,
    coverageBoundBytes: coverageBound,
    deflatedPulseBytes: deflateRawSync(pulseBytes, { level: 9 }).length,
    ratioToFull: round(fullBytes / pulseBytes.length, 1),
    ratioToReference: round(refBytes.length / pulseBytes.length),
    overBound: round(pulseBytes.length / Math.max(1, bound) - 1),
    overCoverageBound: round(pulseBytes.length / Math.max(1, coverageBound) - 1),
    encodeMBps: mbps(enc.ms),
    decodeMBps: mbps(dec.ms),
    referenceEncodeMBps: mbps(refEnc.ms),
    referenceDecodeMBps: mbps(refDec.ms),
    bitExact: modelsBitEqual(dec.value as Model, c.next) && modelsBitEqual(refDec.value as Model, c.next),
  };
}

function table(results: CaseResult[]): string {
  const head = ['case', 'changed', 'full MB', 'ref B', 'pulse B', 'bound B', '×full', '×ref', 'vs bound', 'vs cov. bound', 'enc MB/s (ref)', 'dec MB/s (ref)', 'exact'];
  const rows = results.map((r) => [
    r.case,
    `${(r.changedFraction * 100).toFixed(2)}%`,
    (r.fullBytes / 1e6).toFixed(2),
    String(r.referenceBytes),
    String(r.pulseBytes),
    String(r.boundBytes),
    r.ratioToFull.toFixed(1),
    r.ratioToReference.toFixed(2),
    `${r.overBound >= 0 ? '+' : ''}${(r.overBound * 100).toFixed(1)}%`,
    `${r.overCoverageBound >= 0 ? '+' : ''}${(r.overCoverageBound * 100).toFixed(1)}%`,
    `${r.encodeMBps} (${r.referenceEncodeMBps})`,
    `${r.decodeMBps} (${r.referenceDecodeMBps})`,
    r.bitExact ? 'yes' : 'NO',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  await initZstd();
  const size = quick ? QUICK_SIZE : FULL_SIZE;
  const corpus = buildCorpus(size);
  // One untimed pass over the first case: until the JIT has seen every path, whichever case ran first looked slow.
  await runCase(corpus[0]!);
  const results: CaseResult[] = [];
  for (const c of corpus) {
    const r = await runCase(c);
    results.push(r);
    if (json) console.log(JSON.stringify(r));
  }
  if (!json) {
    console.log(`PULSE vs reference (COO + zstd-1) vs entropy bound; model ${JSON.stringify(size)}, median of ${repeats}`);
    console.log(table(results));
  }
  mkdirSync('bench/results', { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(`bench/results/pulse-${quick ? 'quick' : 'full'}-${stamp}.jsonl`, results.map((r) => JSON.stringify(r)).join('\n') + '\n');
  if (results.some((r) => !r.bitExact)) process.exitCode = 1;
}

await main();

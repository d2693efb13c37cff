/**
 * Where the time goes: per corpus case, median ms of each stage of the bench's
 * encode (diff = scan + sparse entries + hash) and decode (decode, apply =
 * copy + patch + hash) paths, and of the reference's. `tsx bench/pulse/breakdown.ts [--full] [case-substring]`.
 */

import { init as initZstd } from '@bokuweb/zstd-wasm';
import { apply, decode, diff, encode, hashModel } from '@shared/pulse';
import { buildCorpus, FULL_SIZE, QUICK_SIZE } from './corpus';
import { decodeReference, encodeReference } from './reference';

const argv = process.argv.slice(2);
const full = argv.includes('--full');
const filter = argv.find((a) => !a.startsWith('--')) ?? '';
const REPEATS = 15;

async function medianMs(fn: () => unknown): Promise<number> {
  await fn();
  const ms: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b)[REPEATS >> 1]!;
}

await initZstd();
for (const c of buildCorpus(full ? FULL_SIZE : QUICK_SIZE)) {
  if (!c.name.includes(filter)) continue;
  const baseHash = await hashModel(c.base);
  const patch = await diff(c.base, c.next, { baseHash });
  const bytes = encode(patch);
  const decoded = decode(bytes);
  const ref = await encodeReference(c.base, c.next);
  const row = {
    hash: await medianMs(() => hashModel(c.next)),
    diff: await medianMs(() => diff(c.base, c.next, { baseHash })),
    encode: await medianMs(() => encode(patch)),
    decode: await medianMs(() => decode(bytes)),
    apply: await medianMs(() => apply(c.base, decoded, { baseHash })),
    refEnc: await medianMs(() => encodeReference(c.base, c.next)),
    refDec: await medianMs(() => decodeReference(c.base, ref)),
  };
  const cells = Object.entries(row).map(([k, v]) => `${k} ${v.toFixed(3)}`);
  console.log(`${c.name.padEnd(28)} ${cells.join('  ')}`);
}

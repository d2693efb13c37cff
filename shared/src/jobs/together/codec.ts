/**
 * A contribution's bytes (what a provider commits to, reveals and signs):
 *
 *   "SLC1" · u32 n · u32 chunk · u16 topK · u8 riceBits · u8 0 · u16 scales[2 × chunks] · bit stream
 *
 * The bit stream holds, per chunk, its kept positions as Rice-coded gaps (the first from the chunk's start,
 * then from the previous position + 1) followed by its 2-bit symbols. Top-k positions of a residual are
 * spread nearly uniformly, so their gaps are close to geometric and Rice coding lands within a few percent
 * of log2 C(chunk, k), the bound for a k-subset (12-bit raw indices would cost 40% more). The Rice
 * parameter is the one that makes the whole contribution smallest.
 */
import { BitReader, BitWriter } from '../../pulse/bits';
import { COMPRESS_DEFAULTS, chunkCount, type Contribution, keptIn, keptTotal } from './compress';
import { ContributionError } from './errors';

const MAGIC = 0x31434c53; // "SLC1"
const HEADER_BYTES = 16;
const MAX_RICE_BITS = 16;

/** The shape every contribution of a job must have. */
export interface ContributionShape {
  readonly n: number;
  readonly chunk: number;
  readonly topK: number;
}

function gapsOf(c: Contribution, visit: (gap: number) => void): void {
  let at = 0;
  for (let ch = 0, m = chunkCount(c.n, c.chunk); ch < m; ch++) {
    const k = keptIn(c.n, c.chunk, c.topK, ch);
    let next = ch * c.chunk;
    for (let j = 0; j < k; j++, at++) {
      const p = c.positions[at]!;
      visit(p - next);
      next = p + 1;
    }
  }
}

function bestRiceBits(c: Contribution): number {
  const cost = new Float64Array(MAX_RICE_BITS + 1);
  gapsOf(c, (g) => {
    for (let b = 0; b <= MAX_RICE_BITS; b++) cost[b] = cost[b]! + Math.floor(g / 2 ** b) + 1 + b;
  });
  let best = 0;
  for (let b = 1; b <= MAX_RICE_BITS; b++) if (cost[b]! < cost[best]!) best = b;
  return best;
}

export function encodeContribution(c: Contribution): Uint8Array {
  const chunks = chunkCount(c.n, c.chunk);
  const rice = bestRiceBits(c);
  const w = new BitWriter(HEADER_BYTES + 4 * chunks + c.positions.length * 2);
  let at = 0;
  for (let ch = 0; ch < chunks; ch++) {
    const k = keptIn(c.n, c.chunk, c.topK, ch);
    let next = ch * c.chunk;
    for (let j = 0; j < k; j++) {
      const p = c.positions[at + j]!;
      const gap = p - next;
      next = p + 1;
      let q = Math.floor(gap / 2 ** rice);
      while (q >= 24) {
        w.write(0, 24);
        q -= 24;
      }
      w.write(1, q + 1);
      if (rice > 0) w.write(gap % 2 ** rice, rice);
    }
    for (let j = 0; j < k; j++) w.write(c.symbols[at + j]!, 2);
    at += k;
  }
  const stream = w.finish();
  const out = new Uint8Array(HEADER_BYTES + 4 * chunks + stream.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, c.n, true);
  dv.setUint32(8, c.chunk, true);
  dv.setUint16(12, c.topK, true);
  dv.setUint8(14, rice);
  for (let i = 0; i < 2 * chunks; i++) dv.setUint16(HEADER_BYTES + 2 * i, c.scales[i]!, true);
  out.set(stream, HEADER_BYTES + 4 * chunks);
  return out;
}

/**
 * Reads a contribution from untrusted bytes. Anything that is not exactly a contribution of `shape` —
 * wrong header, non-finite scale, a position outside its chunk or out of order, bits missing or left
 * over — is a ContributionError; nothing is allocated beyond the shape's own size.
 */
export function decodeContribution(bytes: Uint8Array, shape: ContributionShape): Contribution {
  const { n, chunk, topK } = shape;
  const chunks = chunkCount(n, chunk);
  if (bytes.length < HEADER_BYTES + 4 * chunks) throw new ContributionError('the contribution is truncated');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) throw new ContributionError('not a contribution (bad magic)');
  if (dv.getUint32(4, true) !== n || dv.getUint32(8, true) !== chunk || dv.getUint16(12, true) !== topK)
    throw new ContributionError(`the contribution is not shaped for this job (${n} values, ${topK} of ${chunk})`);
  const rice = dv.getUint8(14);
  if (rice > MAX_RICE_BITS || dv.getUint8(15) !== 0) throw new ContributionError('bad contribution header');
  const scales = new Uint16Array(2 * chunks);
  for (let i = 0; i < 2 * chunks; i++) {
    const s = dv.getUint16(HEADER_BYTES + 2 * i, true);
    if ((s & 0x7f80) === 0x7f80 || s & 0x8000) throw new ContributionError('a scale is negative or not finite');
    scales[i] = s;
  }
  const total = keptTotal(n, chunk, topK);
  const positions = new Uint32Array(total);
  const symbols = new Uint8Array(total);
  const r = new BitReader(bytes.subarray(HEADER_BYTES + 4 * chunks));
  try {
    let at = 0;
    for (let ch = 0; ch < chunks; ch++) {
      const k = keptIn(n, chunk, topK, ch);
      const end = Math.min(n, (ch + 1) * chunk);
      let next = ch * chunk;
      for (let j = 0; j < k; j++) {
        let q = 0;
        while (r.read(1) === 0) if (++q > chunk) throw new ContributionError('a position gap overruns its chunk');
        const gap = q * 2 ** rice + (rice > 0 ? r.read(rice) : 0);
        const p = next + gap;
        if (p >= end) throw new ContributionError('a position lies outside its chunk');
        positions[at + j] = p;
        next = p + 1;
      }
      for (let j = 0; j < k; j++) symbols[at + j] = r.read(2);
      at += k;
    }
  } catch (e) {
    if (e instanceof ContributionError) throw e;
    throw new ContributionError('the contribution is truncated');
  }
  if (!r.consumedAll()) throw new ContributionError('the contribution has bytes left over');
  return { n, chunk, topK, positions, symbols, scales };
}

/** log2 of the binomial coefficient C(n, k). */
export function log2Choose(n: number, k: number): number {
  let s = 0;
  for (let i = 0; i < k; i++) s += Math.log2((n - i) / (i + 1));
  return s;
}

/**
 * The contribution's entropy bound in bytes: its positions as a k-subset of each chunk, its symbols at
 * their empirical entropy, the scales and header as they are.
 */
export function contributionBoundBytes(c: Contribution): number {
  let bits = 8 * HEADER_BYTES + 32 * chunkCount(c.n, c.chunk);
  for (let ch = 0, m = chunkCount(c.n, c.chunk); ch < m; ch++)
    bits += log2Choose(Math.min(c.n, (ch + 1) * c.chunk) - ch * c.chunk, keptIn(c.n, c.chunk, c.topK, ch));
  const counts = [0, 0, 0, 0];
  for (const s of c.symbols) counts[s]!++;
  const total = c.symbols.length;
  for (const k of counts) if (k > 0) bits -= k * Math.log2(k / total);
  return bits / 8;
}

/**
 * Kept values per chunk of COMPRESS_DEFAULTS.chunk for a job with `providers` volunteers: the default (64,
 * up to 4 volunteers) while the round patch every volunteer downloads — every counted contribution, at what
 * this codec spends on a kept value (its position among the chunk's, 2 bits, its share of the chunk's two
 * bf16 scales: ~10 bits at 64, 11.5 at 32, 16.5 at 8) — stays at least 20× under the bf16 model, halved
 * until it does (32 up to 8, 16 up to 14, 8 at the least, which holds it up to 24). bench:train-net,
 * 8 providers: top 64 gave round patches 12.7× under the bf16 model, top 32 22×.
 */
export function topKFor(providers: number): number {
  const chunk = COMPRESS_DEFAULTS.chunk;
  const bits = (k: number) => log2Choose(chunk, k) + 2 * k + 32;
  let k = COMPRESS_DEFAULTS.topK;
  // 21, not 20: the positions' Rice code lands a few per cent over their bound, and the headers.
  while (k > 8 && Math.max(1, providers) * bits(k) * 21 > 16 * chunk) k /= 2;
  return k;
}

/**
 * SparseLoCo's compressor over the flattened parameter vector (TRAINING.md): error feedback, top-k per
 * chunk, 2-bit values with per-chunk scales. A provider keeps the residual between rounds:
 *
 *   e ← β·e + Δ        (Δ = θ_start − θ_end, its pseudo-gradient)
 *   c = Q(topk(e))     (k largest |e| per chunk; sign and one magnitude bit against two scales)
 *   e ← e − ĉ          (what was sent leaves the residual; the rest waits for later rounds)
 *
 * Everything here is deterministic f32 arithmetic, so the decompressed ĉ is the same on every peer.
 */
import { ContributionError } from './errors';

export interface CompressOptions {
  /** Values per chunk (4096 = 64×64, as Templar). */
  readonly chunk: number;
  /** Values kept per chunk (Templar's 8B run keeps 32 of 4096, 0.78%). */
  readonly topK: number;
  /** Residual decay β. */
  readonly decay: number;
}

/**
 * 64 of 4096 (1.56%, SparseLoCo's), for up to 4 volunteers; topKFor halves it for more, so the round patch
 * every volunteer downloads stays 20× under the bf16 model (32 from 5, as Templar's 8B run keeps). bench:train-net's
 * 4-provider case, against one worker: 1.076 at 32 and 1.061 at 64 (24 rounds × 30 steps); 1.068 and 1.051 at
 * 36 × 20; contributions 204× under dense f32 at 64. It was 32 for every job once: a clean-clone CI run refused
 * E2E-TOGETHER2's honest joiner's first contribution at 64 (it gained ~0 on all four validation batches). A
 * joiner now warms its inner optimizer first (RoundTrainer.warm), which nearly doubled its first gain over the
 * bar, and a test under the bar is decided on a larger draw (rounds.ts, RETEST_FACTOR). Neither finer values
 * nor keeping every value closes the rest of the gap to one worker (24 × 30, measured at 32 before): values of
 * 3 and 4 bits (4 and 8 scales per chunk; tried, not kept) gave 1.082 and 1.076 against 1.077 at 2 bits, and
 * all 4096 of 4096 at 2 bits 1.059 (the loss test refusing one of the four volunteers from its third round on).
 */
export const COMPRESS_DEFAULTS: CompressOptions = { chunk: 4096, topK: 64, decay: 0.95 };

/**
 * One compressed pseudo-gradient. Chunk c covers [c·chunk, min(n, (c+1)·chunk)) and keeps keptIn(c)
 * positions, ascending; `symbols[j]` is sign << 1 | magnitude bit of the j-th kept value overall, and
 * `scales[2c]`, `scales[2c+1]` are the chunk's low and high magnitudes as bf16 bit patterns.
 */
export interface Contribution {
  readonly n: number;
  readonly chunk: number;
  readonly topK: number;
  readonly positions: Uint32Array;
  readonly symbols: Uint8Array;
  readonly scales: Uint16Array;
}

export function chunkCount(n: number, chunk: number): number {
  return Math.ceil(n / chunk);
}

/** How many values chunk c keeps: topK, or the whole chunk when it is shorter. */
export function keptIn(n: number, chunk: number, topK: number, c: number): number {
  return Math.min(topK, Math.min(n, (c + 1) * chunk) - c * chunk);
}

export function keptTotal(n: number, chunk: number, topK: number): number {
  let total = 0;
  for (let c = 0, m = chunkCount(n, chunk); c < m; c++) total += keptIn(n, chunk, topK, c);
  return total;
}

export function validateCompressOptions(o: CompressOptions): void {
  if (!Number.isInteger(o.chunk) || o.chunk < 16 || o.chunk > 65536)
    throw new ContributionError(`chunk must be a whole number in 16..65536, not ${o.chunk}`);
  if (!Number.isInteger(o.topK) || o.topK < 1 || o.topK > o.chunk)
    throw new ContributionError(`top-k must be a whole number in 1..${o.chunk}, not ${o.topK}`);
  if (!(o.decay >= 0 && o.decay <= 1)) throw new ContributionError(`decay must be in 0..1, not ${o.decay}`);
}

/** bf16 bits of x, rounded to nearest even (finite inputs only). */
export function bf16Bits(x: number): number {
  const u = new Uint32Array(Float32Array.of(x).buffer)[0]!;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
export function fromBf16Bits(b: number): number {
  u32[0] = b << 16;
  return f32[0]!;
}

/**
 * Indices of the k largest |v| in [from, to), ascending. Ties go to the lower index, so every peer
 * picks the same set.
 */
function topIndices(v: Float32Array, from: number, to: number, k: number, scratch: Float32Array): Uint32Array {
  const len = to - from;
  const mags = scratch.subarray(0, len);
  for (let i = 0; i < len; i++) mags[i] = Math.abs(v[from + i]!);
  const sorted = mags.slice().sort();
  const threshold = sorted[len - k]!;
  let above = 0;
  for (let i = 0; i < len; i++) if (mags[i]! > threshold) above++;
  let ties = k - above;
  const out = new Uint32Array(k);
  let j = 0;
  for (let i = 0; i < len && j < k; i++) {
    const m = mags[i]!;
    if (m > threshold || (m === threshold && ties-- > 0)) out[j++] = from + i;
  }
  return out;
}

/** Quantises a chunk's kept values: magnitudes split at their median, each half's mean is one scale. */
function quantise(values: Float32Array, symbols: Uint8Array, at: number, scales: Uint16Array, c: number): void {
  const k = values.length;
  const mags = Float32Array.from(values, Math.abs).sort();
  const half = k >> 1;
  let lowSum = 0;
  let highSum = 0;
  for (let i = 0; i < k; i++) {
    if (i < half) lowSum += mags[i]!;
    else highSum += mags[i]!;
  }
  const high = highSum / (k - half);
  const low = half > 0 ? lowSum / half : high;
  const lo = bf16Bits(low);
  const hi = bf16Bits(high);
  scales[2 * c] = lo;
  scales[2 * c + 1] = hi;
  const cut = (fromBf16Bits(lo) + fromBf16Bits(hi)) / 2;
  for (let i = 0; i < k; i++) {
    const v = values[i]!;
    symbols[at + i] = ((v < 0 ? 1 : 0) << 1) | (Math.abs(v) >= cut ? 1 : 0);
  }
}

/** Compresses `residual` as it stands (callers fold Δ in first: see ErrorFeedback). */
export function compress(residual: Float32Array, options: CompressOptions = COMPRESS_DEFAULTS): Contribution {
  validateCompressOptions(options);
  const { chunk, topK } = options;
  const n = residual.length;
  const total = keptTotal(n, chunk, topK);
  const positions = new Uint32Array(total);
  const symbols = new Uint8Array(total);
  const chunks = chunkCount(n, chunk);
  const scales = new Uint16Array(2 * chunks);
  const scratch = new Float32Array(chunk);
  let at = 0;
  for (let c = 0; c < chunks; c++) {
    const from = c * chunk;
    const to = Math.min(n, from + chunk);
    const k = keptIn(n, chunk, topK, c);
    const idx = topIndices(residual, from, to, k, scratch);
    positions.set(idx, at);
    const values = new Float32Array(k);
    for (let j = 0; j < k; j++) values[j] = residual[idx[j]!]!;
    quantise(values, symbols, at, scales, c);
    at += k;
  }
  return { n, chunk, topK, positions, symbols, scales };
}

/** The value a symbol stands for in chunk c. */
export function valueOf(contribution: Contribution, c: number, symbol: number): number {
  const scale = fromBf16Bits(contribution.scales[2 * c + (symbol & 1)]!);
  return symbol & 2 ? -scale : scale;
}

/**
 * Calls visit(position, value) for every kept value in order. The contribution's layout is trusted here:
 * decodeContribution has checked it for anything that came from outside.
 */
export function forEachValue(contribution: Contribution, visit: (position: number, value: number) => void): void {
  const { n, chunk, topK, positions, symbols } = contribution;
  let at = 0;
  for (let c = 0, m = chunkCount(n, chunk); c < m; c++) {
    const k = keptIn(n, chunk, topK, c);
    const lo = valueOf(contribution, c, 0);
    const hi = valueOf(contribution, c, 1);
    for (let j = 0; j < k; j++, at++) {
      const s = symbols[at]!;
      const mag = s & 1 ? hi : lo;
      visit(positions[at]!, s & 2 ? -mag : mag);
    }
  }
}

/** ĉ as a dense vector (tests, scoring). */
export function decompress(contribution: Contribution): Float32Array {
  const out = new Float32Array(contribution.n);
  forEachValue(contribution, (p, v) => {
    out[p] = v;
  });
  return out;
}

/** A provider's residual across rounds (kept in IndexedDB by the browser provider). */
export class ErrorFeedback {
  readonly residual: Float32Array;

  constructor(
    n: number,
    readonly options: CompressOptions = COMPRESS_DEFAULTS,
    residual?: Float32Array,
  ) {
    validateCompressOptions(options);
    if (residual !== undefined && residual.length !== n)
      throw new ContributionError(`the saved residual has ${residual.length} values, the model ${n}`);
    this.residual = residual ?? new Float32Array(n);
  }

  /** Folds this round's pseudo-gradient in, compresses, and keeps what was not sent. */
  step(delta: Float32Array): Contribution {
    const e = this.residual;
    if (delta.length !== e.length) throw new ContributionError('pseudo-gradient and residual differ in length');
    const beta = this.options.decay;
    for (let i = 0; i < e.length; i++) e[i] = beta * e[i]! + delta[i]!;
    const contribution = compress(e, this.options);
    forEachValue(contribution, (p, v) => {
      e[p] = e[p]! - v;
    });
    return contribution;
  }
}

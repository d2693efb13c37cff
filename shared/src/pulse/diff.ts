/**
 * diff(base, next) and snapshot(model): build the in-memory Patch. Finding the
 * changed positions is pluggable (CPU here; a Web Worker or WebGPU pass in the
 * browser) and everything after it is shared, so all paths give identical
 * patches.
 */

import { hashModel, modelHasher, readyModelHasher, type ModelHasher } from './hash';
import { Arena, arenaBytes } from './kernels';
import { XXH3_STATE_BYTES } from './xxh3';
import { validateModel } from './model';
import { scaledFromUlp } from './scaled';
import { conditionedPositionGuessBits, encodeConditioned, planConditioned } from './conditioned';
import { forEachRun, usesRuns } from './payload';
import { BUCKET_SYMBOLS, bucketExtraBits, bucketOf } from './buckets';
import {
  DTYPES,
  type Model,
  type ModelHash,
  type Patch,
  type Tensor,
  type TensorData,
  type TensorPatch,
} from './types';

/** Returns the flat indices where the bit patterns of `a` and `b` differ, ascending. */
export type ChangeFinder = (a: TensorData, b: TensorData) => Uint32Array | Promise<Uint32Array>;

export interface DiffOptions {
  /** How to find changed positions; defaults to the CPU scan. */
  readonly findChanges?: ChangeFinder;
  /** Hash of `base` if the caller already knows it (saves hashing it again). */
  readonly baseHash?: ModelHash;
  /**
   * Let each sparse tensor be conditioned (coded given the base, SPEC PULSE19) where that is smaller. Its
   * encode and apply walk every base value in JS where the streamed kinds touch only the changes: on the
   * grail-regime policies (4.8M bf16 values, 2-core dev box) diff + encode 12 -> 31 ms, decode + apply 5 ->
   * 32 ms, for 133 -> 94 kB a patch. Worth it where bytes cost more than that (RL policies sent to many peers
   * every step), so callers opt in; without it diff writes what format 3 wrote (bench:pulse --conditioned
   * shows both: quick bf16 5%: 31,947 -> 27,038 B, decode 1,733 -> 301 MB/s).
   */
  readonly conditioned?: boolean;
}

/** CPU scan: the WebAssembly kernel (32 bytes per SIMD compare), or 32-bit words in JS without WebAssembly. */
export function findChangesCpu(a: TensorData, b: TensorData): Uint32Array {
  const n = a.length;
  let out: Uint32Array = new Uint32Array(Math.max(16, Math.min(n, 1024)));
  let count = 0;
  const scanned = scanWithKernels(a, b, null, (found, memory, at) => {
    while (count + found > out.length) out = grow(out, n);
    out.set(new Uint32Array(memory, at.positions, found), count);
    count += found;
  });
  if (scanned !== false) return out.slice(0, count);
  // Growth is inlined in both loops: a closure over `out` and `count` measured ~2x slower on dense diffs.
  if (a instanceof Uint16Array && b instanceof Uint16Array && a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0) {
    const words = n >>> 1;
    const wa = new Uint32Array(a.buffer, a.byteOffset, words);
    const wb = new Uint32Array(b.buffer, b.byteOffset, words);
    for (let w = 0; w < words; w++) {
      if (wa[w] !== wb[w]) {
        if (count + 2 > out.length) out = grow(out, n);
        const i = w << 1;
        if (a[i] !== b[i]) out[count++] = i;
        if (a[i + 1] !== b[i + 1]) out[count++] = i + 1;
      }
    }
    if (n & 1 && a[n - 1] !== b[n - 1]) {
      if (count + 1 > out.length) out = grow(out, n);
      out[count++] = n - 1;
    }
  } else {
    for (let i = 0; i < n; i++) {
      if (a[i] !== b[i]) {
        if (count === out.length) out = grow(out, n);
        out[count++] = i;
      }
    }
  }
  return out.slice(0, count);
}

function grow(out: Uint32Array, n: number): Uint32Array {
  const grown = new Uint32Array(Math.min(Math.max(n, 16), out.length * 2));
  grown.set(out);
  return grown;
}

function sameLayout(a: Tensor, b: Tensor): boolean {
  return a.dtype === b.dtype && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}

function entropyBits(hist: Uint32Array | number[], total: number): number {
  let bits = 0;
  for (let i = 0; i < hist.length; i++) {
    const c = hist[i]!;
    if (c > 0) bits -= c * Math.log2(c / total);
  }
  return bits;
}

/**
 * Builds a sparse entry from the changed positions. Picks ulp deltas unless an
 * estimate of the coded size (class entropy + raw mantissa bits, the same
 * shape as the coder's models) says raw new values are smaller, e.g. when
 * values were re-drawn rather than nudged. One pass fills the ulp arrays and
 * both estimates; only a raw pick reads the values again.
 */
export function sparseTensorPatch(
  oldT: Tensor,
  newT: Tensor,
  positions: Uint32Array,
  conditioned = false,
): TensorPatch {
  const { width, exponentBits } = DTYPES[newT.dtype];
  const n = positions.length;
  const signFlips = new Uint8Array(n);
  const magnitudeDeltas = new Uint32Array(n);
  const oldExponents = new Uint8Array(n);
  const newValues = new Uint32Array(n);
  const { classHist, headHist, scaledHist } = histograms(exponentBits);
  const mantissaBits = width - 1 - exponentBits;
  const columns = { signFlips, magnitudeDeltas, oldExponents, newValues, classHist, headHist, scaledHist };
  const classBits =
    width === 16
      ? ulpPass(oldT.data, newT.data, positions, columns, 15, 0x7fff, 0x4000, mantissaBits)
      : ulpPass(oldT.data, newT.data, positions, columns, 31, 0x7fffffff, 0x40000000, mantissaBits);
  return pickKind(oldT, newT, { positions, ...columns, classBits }, conditioned);
}

/**
 * What one pass over the changes gathers: the ulp arrays, each old value's
 * biased exponent, and the histograms of the three size estimates: classes
 * (bits below a delta's leading one) for ulp, class + old exponent for
 * scaled, sign and exponent of the new value for raw.
 */
interface Changes {
  readonly positions: Uint32Array;
  readonly signFlips: Uint8Array;
  readonly magnitudeDeltas: Uint32Array;
  readonly oldExponents: Uint8Array;
  /** The new bit patterns, so a raw pick need not gather them again (a cache miss per change). */
  readonly newValues: Uint32Array;
  readonly classHist: Uint32Array;
  readonly headHist: Uint32Array;
  readonly scaledHist: Uint32Array;
  readonly classBits: number;
}

/**
 * A scaled tensor pays for a table over a larger alphabet; it is picked only
 * when its estimate saves more than this many bits over ulp deltas, so tiny
 * tensors and close calls keep the format-2 kinds.
 */
const SCALED_MIN_SAVING_BITS = 256;
let scaledMarginBits = SCALED_MIN_SAVING_BITS;

/** Tests: the saving scaled must show (−Infinity: scaled wherever raw does not win, so small fixtures reach it). Returns the previous margin. */
export function setScaledMarginForTests(bits: number): number {
  const previous = scaledMarginBits;
  scaledMarginBits = bits;
  return previous;
}

/**
 * A tensor whose raw changes cover at least this fraction of it travels in
 * full: the ≤ 1% of values left unchanged cost about as much in full
 * (~15 bits each) as the runs that would skip them (a gap and a length
 * symbol with raw bits each), and a full tensor skips the position columns
 * in encode, decode and apply (bench all-redrawn, 10.5 MB: encode 170 -> 69
 * ms; speed vs the reference 1.0x -> 1.44x encode, 1.6x -> 3.4x decode).
 */
const FULL_FRACTION = 0.99;

/**
 * The conditioned kind (conditioned.ts) is picked only where its exact
 * estimate is below this fraction of the streamed kinds' (positions as
 * log2 C(N, n), or as runs where those average over 2 long; values as
 * estimated above), less CONDITIONED_MIN_SAVING_BITS:
 * its apply walks every base value (~5 ns each in JS) where gaps touch only
 * the changes, so a close call keeps the streamed kinds (and format 2 or 3).
 */
const CONDITIONED_MAX_FRACTION = 0.97;
const CONDITIONED_MIN_SAVING_BITS = 1024;
let conditionedMarginBits = CONDITIONED_MIN_SAVING_BITS;

/** Tests: the saving conditioned must show (−Infinity: conditioned wherever raw and runs do not win). Returns the previous margin. */
export function setConditionedMarginForTests(bits: number): number {
  const previous = conditionedMarginBits;
  conditionedMarginBits = bits;
  return previous;
}
/** Base values sampled for the first guess of the conditioned positions' size (the full plan reads them all). */
const CONDITIONED_GUESS_STRIDE = 16;

/** n·log2(N/n) + (N−n)·log2(N/(N−n)): log2 C(N, n) to within O(log N). */
function positionBits(N: number, n: number): number {
  if (n === 0 || n === N) return 0;
  const p = n / N;
  return -N * (p * Math.log2(p) + (1 - p) * Math.log2(1 - p));
}

/**
 * What run-coded positions cost (payload.ts encodeRuns, over the same forEachRun walk): per run a gap
 * and a length symbol in one table, order-0 entropy plus each bucket's raw bits.
 */
function runPositionBits(positions: Uint32Array): number {
  const hist = new Uint32Array(BUCKET_SYMBOLS);
  let raw = 0;
  let symbols = 0;
  const see = (v: number) => {
    const s = bucketOf(v);
    hist[s]!++;
    raw += bucketExtraBits(s);
    symbols++;
  };
  forEachRun(positions, (gap, lengthLessOne) => {
    see(gap);
    see(lengthLessOne);
  });
  return entropyBits(hist, symbols) + raw;
}

function pickKind(oldT: Tensor, newT: Tensor, c: Changes, conditioned: boolean): TensorPatch {
  const { width, exponentBits } = DTYPES[newT.dtype];
  const mantissaBits = width - 1 - exponentBits;
  const { positions, signFlips, magnitudeDeltas } = c;
  const { name, dtype } = newT;
  const shape = [...newT.shape];
  const n = positions.length;
  let flipCount = 0;
  for (let i = 0; i < n; i++) flipCount += signFlips[i]!;
  const flipBits = entropyBits([flipCount, n - flipCount], n);
  const ulpEstimate = entropyBits(c.classHist, n) + c.classBits + flipBits;
  const scaledEstimate = entropyBits(c.scaledHist, n) + c.classBits + flipBits + scaledMarginBits;
  const best = Math.min(ulpEstimate, scaledEstimate);
  // The raw estimate is at least its mantissa bits; only a close call pays for the head histogram's entropy.
  if (n * mantissaBits < best && entropyBits(c.headHist, n) + n * mantissaBits < best) {
    // Nearly every value re-drawn: the whole tensor costs about what its few unchanged values' positions would, and codes faster.
    if (n >= FULL_FRACTION * newT.data.length) return { name, dtype, shape, kind: 'full', data: newT.data.slice() };
    return { name, dtype, shape, kind: 'raw', positions, bits: c.newValues };
  }
  const N = newT.data.length;
  if (conditioned) {
    // The streamed kinds' positions: gaps (about log2 C(N, n)), or runs where those average > 2 long.
    const streamedBits = (usesRuns(positions) ? runPositionBits(positions) : positionBits(N, n)) + best;
    const budget = CONDITIONED_MAX_FRACTION * streamedBits - conditionedMarginBits;
    // First a guess (positions from a sample of the base, values as the streamed kinds code them), then the exact plan.
    if (
      budget > 0 &&
      conditionedPositionGuessBits(dtype, oldT.data, c.oldExponents, CONDITIONED_GUESS_STRIDE) + best < budget
    ) {
      const plan = planConditioned(dtype, oldT.data, positions, signFlips, magnitudeDeltas);
      if (plan.bits < budget)
        return { name, dtype, shape, kind: 'conditioned', changes: n, coded: encodeConditioned(dtype, plan) };
    }
  }
  if (scaledEstimate < ulpEstimate) {
    const { symbols, low } = scaledFromUlp(dtype, signFlips, magnitudeDeltas, c.oldExponents);
    return { name, dtype, shape, kind: 'scaled', positions, symbols, low };
  }
  return { name, dtype, shape, kind: 'ulp', positions, signFlips, magnitudeDeltas };
}

/**
 * The default CPU path of diff: the scan of findChangesCpu and the pass of
 * sparseTensorPatch fused, so each changed value is read once, while its
 * cache line is hot (a second pass over scattered changes measured ~150 ns
 * per change on the dev box). Gives exactly sparseTensorPatch(findChangesCpu).
 */
export function scanTensorPatch(oldT: Tensor, newT: Tensor, hasher?: ModelHasher, conditioned = false): TensorPatch {
  const a = oldT.data;
  const b = newT.data;
  const { exponentBits } = DTYPES[newT.dtype];
  let changes = scanChangesWithKernels(a, b, exponentBits, hasher);
  if (changes === null) {
    changes =
      a instanceof Uint16Array && b instanceof Uint16Array
        ? scan16(a, b, exponentBits)
        : scan32(a as Uint32Array, b as Uint32Array, exponentBits);
    hasher?.update(b);
  }
  return pickKind(oldT, newT, changes, conditioned);
}

/** Values per kernel call: both chunks and a dense chunk's changes fit the shared arena (~17 MB for 32-bit values). */
const SCAN_CHUNK = 1 << 20;

/**
 * The scan in the WebAssembly kernel, a chunk at a time: each chunk's changes
 * go to `take(count, memory, at, final)` (final: the last chunk); with the dtype's exponentBits also
 * record()'s sums, returned at the end as a view of the arena (valid until
 * its next use: a copy per tensor cost ~1 µs). False without WebAssembly.
 */
function scanWithKernels(
  a: TensorData,
  b: TensorData,
  exponentBits: number | null,
  take: (count: number, memory: ArrayBuffer, at: ScanBuffers, final: boolean) => void,
  hasher?: ModelHasher,
): Uint32Array | false {
  const n = a.length;
  const width = a.BYTES_PER_ELEMENT;
  const chunk = Math.min(n, SCAN_CHUNK);
  // u64 Σ class bits, then the histograms in ScanState.hists's layout (the class histogram alone when only positions are wanted).
  const sumsBytes = 8 + 4 * (exponentBits === null ? 33 : histogramsLength(exponentBits));
  // The tensor's header, if the hasher holds one, is laid out right before the first chunk and hashed with it.
  const headerRoom = hasher?.headerRoom ?? 0;
  const arena = Arena.for(
    headerRoom +
      2 * arenaBytes(chunk * width) +
      3 * arenaBytes(4 * chunk) +
      2 * arenaBytes(chunk) +
      arenaBytes(sumsBytes) +
      arenaBytes(XXH3_STATE_BYTES),
  );
  if (arena === null) return false;
  const { k } = arena;
  const at = {
    a: arena.alloc(chunk * width),
    b: arena.alloc(headerRoom + chunk * width) + headerRoom,
    positions: arena.alloc(4 * chunk),
    flips: arena.alloc(chunk),
    mags: arena.alloc(4 * chunk),
    exps: arena.alloc(chunk),
    news: arena.alloc(4 * chunk),
    sums: arena.alloc(sumsBytes),
    hashState: arena.alloc(XXH3_STATE_BYTES),
  };
  const u8 = arena.u8;
  u8.fill(0, at.sums, at.sums + sumsBytes);
  const mantissaBits = width * 8 - 1 - (exponentBits ?? 0);
  for (let first = 0; first < n; first += chunk) {
    const last = Math.min(n, first + chunk);
    u8.set(bytesOf(a, first, last), at.a);
    u8.set(bytesOf(b, first, last), at.b);
    take(
      k.scan(
        at.a,
        at.b,
        last - first,
        width,
        mantissaBits,
        first,
        exponentBits === null,
        at.positions,
        at.flips,
        at.mags,
        at.exps,
        at.news,
        at.sums,
      ),
      k.memory.buffer,
      at,
      last === n,
    );
    hasher?.updateInPlace(arena, at.hashState, at.b, (last - first) * width); // the chunk is in the arena already
  }
  return arena.u32.subarray(at.sums / 4, (at.sums + sumsBytes) / 4);
}

/** Values [from, to) of `x` as bytes. */
function bytesOf(x: TensorData, from: number, to: number): Uint8Array {
  const width = x.BYTES_PER_ELEMENT;
  return new Uint8Array(x.buffer, x.byteOffset + from * width, (to - from) * width);
}

interface ScanBuffers {
  readonly positions: number;
  readonly flips: number;
  readonly mags: number;
  readonly exps: number;
  readonly news: number;
}

/** scan16/scan32 with the kernel; null without WebAssembly. */
function scanChangesWithKernels(
  a: TensorData,
  b: TensorData,
  exponentBits: number,
  hasher?: ModelHasher,
): Changes | null {
  const st = new ScanState(a.length, a.BYTES_PER_ELEMENT * 8, exponentBits, 0);
  const sums = scanWithKernels(
    a,
    b,
    exponentBits,
    (count, memory, at, final) => {
      st.reserve(st.count + count, final);
      st.positions.set(new Uint32Array(memory, at.positions, count), st.count);
      st.flips.set(new Uint8Array(memory, at.flips, count), st.count);
      st.mags.set(new Uint32Array(memory, at.mags, count), st.count);
      st.exps.set(new Uint8Array(memory, at.exps, count), st.count);
      st.news.set(new Uint32Array(memory, at.news, count), st.count);
      st.count += count;
    },
    hasher,
  );
  if (sums === false) return null;
  st.classBits = sums[0]! + sums[1]! * 2 ** 32;
  st.hists.set(sums.subarray(2));
  return st.result();
}

/** Class histogram [33] · head histogram [2^(1 + exponent bits)] · scaled-class histogram [33 + 2^exponent bits]. */
function histogramsLength(exponentBits: number): number {
  return 33 + (1 << (1 + exponentBits)) + 33 + (1 << exponentBits);
}

/** The three histograms of the kind choice as views of one buffer (a typed array of its own costs ~1 µs; diff makes them per tensor). */
function histograms(exponentBits: number): {
  hists: Uint32Array;
  classHist: Uint32Array;
  headHist: Uint32Array;
  scaledHist: Uint32Array;
} {
  const heads = 1 << (1 + exponentBits);
  const hists = new Uint32Array(histogramsLength(exponentBits));
  return {
    hists,
    classHist: hists.subarray(0, 33),
    headHist: hists.subarray(33, 33 + heads),
    scaledHist: hists.subarray(33 + heads),
  };
}

/** What the fused scan has gathered so far; `record` appends one change. */
class ScanState {
  positions: Uint32Array;
  flips: Uint8Array;
  mags: Uint32Array;
  exps: Uint8Array;
  news: Uint32Array;
  count = 0;
  classBits = 0;
  /** classHist, headHist and scaledHist, one after the other: the layout of the scan kernel's sums. */
  readonly hists: Uint32Array;
  readonly classHist: Uint32Array;
  readonly headHist: Uint32Array;
  readonly scaledHist: Uint32Array;
  readonly expMask: number;
  readonly signShift: number;
  readonly magMask: number;
  readonly half: number;
  readonly mantissaBits: number;

  /** `capacity` defaults to a guess for the JS scan; the kernel path starts empty and reserves what each chunk found. */
  constructor(
    readonly limit: number,
    width: number,
    exponentBits: number,
    capacity = Math.max(16, Math.min(limit, 1024 + (limit >>> 6))),
  ) {
    [this.positions, this.news, this.mags, this.flips, this.exps] = ScanState.columns(capacity);
    ({
      hists: this.hists,
      classHist: this.classHist,
      headHist: this.headHist,
      scaledHist: this.scaledHist,
    } = histograms(exponentBits));
    this.expMask = (1 << exponentBits) - 1;
    this.signShift = width - 1;
    this.magMask = width === 16 ? 0x7fff : 0x7fffffff;
    this.half = width === 16 ? 0x4000 : 0x40000000;
    this.mantissaBits = width - 1 - exponentBits;
  }

  grow(): void {
    this.resize(Math.min(Math.max(this.limit, 16), this.positions.length * 2));
  }

  /** Room for `total` changes: exactly that many when no more will come (no slice at the end), else at least double. */
  reserve(total: number, final: boolean): void {
    if (total > this.positions.length)
      this.resize(final ? total : Math.min(this.limit, Math.max(total, 2 * this.positions.length)));
  }

  /** The five change columns as views of one buffer (a typed array of its own costs ~1 µs, and diff makes these per tensor). */
  private static columns(capacity: number): [Uint32Array, Uint32Array, Uint32Array, Uint8Array, Uint8Array] {
    const buffer = new ArrayBuffer(14 * capacity);
    return [
      new Uint32Array(buffer, 0, capacity),
      new Uint32Array(buffer, 4 * capacity, capacity),
      new Uint32Array(buffer, 8 * capacity, capacity),
      new Uint8Array(buffer, 12 * capacity, capacity),
      new Uint8Array(buffer, 13 * capacity, capacity),
    ];
  }

  private resize(capacity: number): void {
    const [p, v, m, f, e] = ScanState.columns(capacity);
    p.set(this.positions);
    v.set(this.news);
    f.set(this.flips);
    m.set(this.mags);
    e.set(this.exps);
    this.positions = p;
    this.flips = f;
    this.mags = m;
    this.exps = e;
    this.news = v;
  }

  /** What was found; the state is done after this (its columns are let go, and it is kept as keptScanState). */
  result(): Changes {
    const n = this.count;
    const { classHist, headHist, scaledHist, classBits } = this;
    const changes: Changes = {
      positions: fitted(this.positions, n),
      signFlips: fitted(this.flips, n),
      magnitudeDeltas: fitted(this.mags, n),
      oldExponents: fitted(this.exps, n),
      newValues: fitted(this.news, n),
      classHist,
      headHist,
      scaledHist,
      classBits,
    };
    this.positions = this.news = this.mags = NO_U32;
    this.flips = this.exps = NO_U8;
    keptScanState = this;
    return changes;
  }
}

/** The first `n` of a column: itself when exact, a view when mostly full (dense changes: saves copying megabytes), else a copy. */
function fitted<T extends Uint8Array | Uint32Array>(x: T, n: number): T {
  return n === x.length ? x : 4 * n >= 3 * x.length ? (x.subarray(0, n) as T) : (x.slice(0, n) as T);
}

const NO_U32 = new Uint32Array(0);
const NO_U8 = new Uint8Array(0);

/**
 * The last finished scan state, with its columns let go. With none alive, a
 * full GC took ScanState's map with it and V8 threw away the optimized code
 * of every function that had seen it (the scan, encode's table writer): the
 * next ~200 diffs ran slower while it was compiled again (see idle in hash.ts).
 * Only written: holding it is the point.
 */
let keptScanState: ScanState | null = null;

/** Appends the change at `i` from `o` to `v` (o ≠ v): the same sums as ulpPass. Small enough for V8 to inline. */
function record(st: ScanState, i: number, o: number, v: number): void {
  const c = st.count;
  if (c === st.positions.length) st.grow();
  const magMask = st.magMask;
  const flip = ((o ^ v) >>> st.signShift) & 1;
  const md = ((v & magMask) - (o & magMask)) & magMask;
  st.positions[c] = i;
  st.flips[c] = flip;
  st.mags[c] = md;
  st.count = c + 1;
  const signed = md >= st.half ? md - st.half * 2 : md;
  const zz = signed >= 0 ? signed * 2 : -signed * 2 - 1;
  const k = 31 - Math.clz32(flip ? zz + 1 : zz);
  st.classHist[k]!++;
  st.classBits += k;
  st.headHist[v >>> st.mantissaBits]!++;
  const e = (o >>> st.mantissaBits) & st.expMask;
  st.exps[c] = e;
  st.news[c] = v;
  st.scaledHist[k + e]!++;
}

/** Compares 32-bit words (two values at a time) where both arrays are 4-byte aligned, like findChangesCpu. */
function scan16(a: Uint16Array, b: Uint16Array, exponentBits: number): Changes {
  const n = a.length;
  const st = new ScanState(n, 16, exponentBits);
  const aligned = a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0;
  const words = aligned ? n >>> 1 : 0;
  if (words > 0) {
    const wa = new Uint32Array(a.buffer, a.byteOffset, words);
    const wb = new Uint32Array(b.buffer, b.byteOffset, words);
    for (let w = 0; w < words; w++) {
      if (wa[w] === wb[w]) continue;
      const i = w << 1;
      const o0 = a[i]!;
      const v0 = b[i]!;
      if (o0 !== v0) record(st, i, o0, v0);
      const o1 = a[i + 1]!;
      const v1 = b[i + 1]!;
      if (o1 !== v1) record(st, i + 1, o1, v1);
    }
  }
  for (let i = words << 1; i < n; i++) {
    const o = a[i]!;
    const v = b[i]!;
    if (o !== v) record(st, i, o, v);
  }
  return st.result();
}

function scan32(a: Uint32Array, b: Uint32Array, exponentBits: number): Changes {
  const n = a.length;
  const st = new ScanState(n, 32, exponentBits);
  for (let i = 0; i < n; i++) {
    const o = a[i]!;
    const v = b[i]!;
    if (o !== v) record(st, i, o, v);
  }
  return st.result();
}

/** The fused pass of sparseTensorPatch; returns Σ class bits (the raw bits a delta's bucket would need). */
function ulpPass(
  a: TensorData,
  b: TensorData,
  positions: Uint32Array,
  {
    signFlips,
    magnitudeDeltas,
    oldExponents,
    newValues,
    classHist,
    headHist,
    scaledHist,
  }: Omit<Changes, 'positions' | 'classBits'>,
  signShift: number,
  magMask: number,
  half: number,
  mantissaBits: number,
): number {
  let classBits = 0;
  for (let i = 0; i < positions.length; i++) {
    const p = positions[i]!;
    const o = a[p]!;
    const v = b[p]!;
    const flip = ((o ^ v) >>> signShift) & 1;
    const md = ((v & magMask) - (o & magMask)) & magMask;
    signFlips[i] = flip;
    magnitudeDeltas[i] = md;
    const signed = md >= half ? md - half * 2 : md;
    const zz = signed >= 0 ? signed * 2 : -signed * 2 - 1;
    const k = 31 - Math.clz32(flip ? zz + 1 : zz);
    classHist[k]!++;
    classBits += k;
    headHist[v >>> mantissaBits]!++;
    const e = (o & magMask) >>> mantissaBits;
    oldExponents[i] = e;
    newValues[i] = v;
    scaledHist[k + e]!++;
  }
  return classBits;
}

export async function diff(base: Model, next: Model, options: DiffOptions = {}): Promise<Patch> {
  validateModel(base);
  validateModel(next);
  const findChanges = options.findChanges;
  const conditioned = options.conditioned ?? false;
  if (findChanges === undefined) return scanDiff(base, next, options.baseHash, conditioned);
  const byName = new Map<string, Tensor>(base.tensors.map((t) => [t.name, t]));
  const tensors: TensorPatch[] = [];
  for (const t of next.tensors) {
    const old = byName.get(t.name);
    if (old === undefined || !sameLayout(old, t)) {
      tensors.push(fullTensorPatch(t));
      continue;
    }
    tensors.push(sparseTensorPatch(old, t, await findChanges(old.data, t.data), conditioned));
  }
  const [baseHash, resultHash] = await Promise.all([options.baseHash ?? hashModel(base), hashModel(next)]);
  return { baseHash, resultHash, tensors };
}

/** The default CPU diff: next is hashed a scan chunk at a time, while the chunk is in cache (no await until digest: see ModelHasher). */
async function scanDiff(
  base: Model,
  next: Model,
  baseHash: ModelHash | undefined,
  conditioned: boolean,
): Promise<Patch> {
  const byName = new Map<string, Tensor>(base.tensors.map((t) => [t.name, t]));
  const hasher = readyModelHasher() ?? (await modelHasher());
  hasher.begin();
  const tensors = next.tensors.map((t) => {
    hasher.tensor(t);
    const old = byName.get(t.name);
    // The scan hashes the header with the tensor's first chunk (a kernel trip of its own cost ~2 µs a tensor); an empty tensor leaves it to the next flush.
    if (old !== undefined && sameLayout(old, t)) return scanTensorPatch(old, t, hasher, conditioned);
    hasher.update(t.data);
    return fullTensorPatch(t);
  });
  const resultHash = hasher.digest();
  return { baseHash: baseHash ?? (await hashModel(base)), resultHash, tensors };
}

function fullTensorPatch(t: Tensor): TensorPatch {
  return { kind: 'full', name: t.name, dtype: t.dtype, shape: [...t.shape], data: t.data.slice() };
}

/** A full snapshot (anchor): the same container with no base. */
export async function snapshot(model: Model): Promise<Patch> {
  validateModel(model);
  return { baseHash: null, resultHash: await hashModel(model), tensors: model.tensors.map(fullTensorPatch) };
}

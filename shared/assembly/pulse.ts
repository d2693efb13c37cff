/**
 * PULSE hot loops in WebAssembly (AssemblyScript; `npm run build:wasm` turns
 * this file into shared/src/pulse/kernels.wasm.ts). The format and every
 * check are those of shared/src/pulse/payload.ts; this module only runs them
 * without JS's per-access bounds checks and with 64-bit integers, so a symbol
 * costs a few nanoseconds instead of ~17.
 *
 * No allocation and no runtime: the caller (kernels.ts) lays out every array
 * in linear memory and passes byte offsets. Coder state lives in small
 * structs there too, so a stream can be continued by the next call:
 *
 *   rANS decoder  u32 x · pos · end · symbol table · step table · mask · scaleBits
 *   raw reader    u32 last8 · u32 failed change · u64 endBits · u64 bitPos
 *                 (last8: the byte-reversed stream's end less 8, see peekBits;
 *                 failed change: where an apply kernel stopped on an error)
 *   raw writer    u32 out · length · u64 acc · u32 pending   (MSB first, like BitWriter)
 *
 * Errors are negative return codes, turned into CorruptPatchError by the caller.
 */

/** BUCKET_MANTISSA_BITS of constants.ts; kernels.ts checks they agree. */
const M: u32 = 2;
const DIRECT: u32 = (1 << (M + 1)) - 1;
const RANS_L: u32 = 1 << 23;

/** Error codes; kernels.ts KERNEL_ERRORS gives their messages. */
const E_RANS_TRUNCATED: i32 = -1;
const E_RAW_TRUNCATED: i32 = -2;
const E_POSITION: i32 = -3;
const E_DELTA: i32 = -4;
const E_RUN: i32 = -5;
const E_SCALED: i32 = -6;

let bucketBase: usize = 0;
let bucketExtra: usize = 0;
let bucketCount: u32 = 0;

export function bucketMantissaBits(): u32 {
  return M;
}

/** Where the caller put BUCKETS.base (i32 per bucket) and BUCKETS.extra (u8 per bucket), and how many buckets there are. */
export function setBuckets(base: usize, extra: usize, count: u32): void {
  bucketBase = base;
  bucketExtra = extra;
  bucketCount = count;
}

@inline function bucketOf(v: u32): u32 {
  if (v < DIRECT) return v;
  const e0: u32 = 31 - clz<u32>(v + 1) - M;
  return (e0 << M) + ((v + 1) >> e0) - 1;
}

// ---------------------------------------------------------------- decoding

/**
 * The decode table of rans.ts decodeTable, built in place: per slot of
 * [0, 2^scaleBits) its symbol (u16) and step (u32 freq << 16 | slot − cum).
 * `freq` is u32 per symbol and sums to 2^scaleBits (readTable checked it).
 */
export function buildDecodeTable(freq: usize, alphabet: u32, sym: usize, step: usize): void {
  let slot: u32 = 0;
  for (let s: u32 = 0; s < alphabet; s++) {
    const f = load<u32>(freq + (<usize>s << 2));
    for (let j: u32 = 0; j < f; j++) {
      store<u16>(sym + (<usize>(slot + j) << 1), <u16>s);
      store<u32>(step + (<usize>(slot + j) << 2), (f << 16) | j);
    }
    slot += f;
  }
}

/**
 * Reads `e` (0..31) bits MSB-first at `bitPos` of a raw-bit stream stored
 * byte-reversed (reverseBytes), `last8` being its end less 8: a big-endian
 * word of the stream is then one little-endian load, where wasm has no byte
 * swap. The caller checked bitPos + e ≤ endBits. A word that runs past the
 * stream's end loads up to 8 bytes before the reversed copy, which the caller
 * allocated; their bits are shifted out.
 */
@inline function peekBits(last8: usize, bitPos: u64, e: u32): u32 {
  const w = load<u64>(last8 - <usize>(bitPos >> 3));
  return <u32>(((w << (bitPos & 7)) >> 1) >> (63 - <u64>e));
}

/** dst[i] = src[len − 1 − i] for i < len, 16 bytes a step; the regions do not overlap. */
export function reverseBytes(src: usize, dst: usize, len: u32): void {
  let i: usize = 0;
  const n = <usize>len;
  for (; i + 16 <= n; i += 16) {
    const v = v128.load(src + n - 16 - i);
    v128.store(dst + i, i8x16.swizzle(v, i8x16(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)));
  }
  for (; i < n; i++) store<u8>(dst + i, load<u8>(src + n - 1 - i));
}

/**
 * Gap-coded positions. decodeGapsPaired also decodes, in the same loop, the
 * next `n` bare symbols of a second stream `v`, stored as u16 at `outSym` (the
 * scaled deltas, whose raw bits apply reads). The two states' dependency
 * chains are independent, so the CPU runs them side by side: decode alone, same
 * process, alternating, median of 2,000, f32 1% quick 1.22× and 1.24× faster than
 * decoding the symbols in a loop of their own after the gaps. Ulp and raw
 * values are not paired: their raw bits follow all the gaps' in the raw
 * stream, and the second pass that reads them cost what pairing saved
 * (0.96–0.99×). Gaps alone get a loop without the pairing: a run-time flag
 * in the shared loop made them ~4% slower (bench random positions).
 */
export function decodeGaps(s: usize, r: usize, n: u32, elements: u32, out: usize): i32 {
  return gapLoop(false, s, r, n, elements, out, 0, 0);
}

export function decodeGapsPaired(s: usize, r: usize, n: u32, elements: u32, out: usize, v: usize, outSym: usize): i32 {
  return gapLoop(true, s, r, n, elements, out, v, outSym);
}

/** Inlined with `paired` a constant, so each kernel compiles to its own loop. */
@inline function gapLoop(paired: bool, s: usize, r: usize, n: u32, elements: u32, out: usize, v: usize, outSym: usize): i32 {
  let x = load<u32>(s, 0);
  let pos = <usize>load<u32>(s, 4);
  const end = <usize>load<u32>(s, 8);
  const sym = <usize>load<u32>(s, 12);
  const step = <usize>load<u32>(s, 16);
  const mask = load<u32>(s, 20);
  const scaleBits = load<u32>(s, 24);
  let y = paired ? load<u32>(v, 0) : 0;
  let vpos = paired ? <usize>load<u32>(v, 4) : 0;
  const vend = paired ? <usize>load<u32>(v, 8) : 0;
  const vsym = paired ? <usize>load<u32>(v, 12) : 0;
  const vstep = paired ? <usize>load<u32>(v, 16) : 0;
  const vmask = paired ? load<u32>(v, 20) : 0;
  const vscaleBits = paired ? load<u32>(v, 24) : 0;
  const last8 = <usize>load<u32>(r, 0);
  const endBits = load<u64>(r, 8);
  let bitPos = load<u64>(r, 16);
  let next: u64 = 0; // previous position + 1
  for (let i: u32 = 0; i < n; i++) {
    const slot = x & mask;
    const st = load<u32>(step + (<usize>slot << 2));
    x = (st >> 16) * (x >> scaleBits) + (st & 0xffff);
    if (paired) {
      const vslot = y & vmask;
      const vst = load<u32>(vstep + (<usize>vslot << 2));
      y = (vst >> 16) * (y >> vscaleBits) + (vst & 0xffff);
      while (y < RANS_L) {
        if (vpos >= vend) return E_RANS_TRUNCATED;
        y = (y << 8) | <u32>load<u8>(vpos++);
      }
      store<u16>(outSym + (<usize>i << 1), load<u16>(vsym + (<usize>vslot << 1)));
    }
    while (x < RANS_L) {
      if (pos >= end) return E_RANS_TRUNCATED;
      x = (x << 8) | <u32>load<u8>(pos++);
    }
    const b = <u32>load<u16>(sym + (<usize>slot << 1));
    const e = <u32>load<u8>(bucketExtra + <usize>b);
    if (bitPos + e > endBits) return E_RAW_TRUNCATED;
    const low = peekBits(last8, bitPos, e);
    bitPos += e;
    const p = next + <u64>load<i32>(bucketBase + (<usize>b << 2)) + low;
    if (p >= <u64>elements) return E_POSITION;
    store<u32>(out + (<usize>i << 2), <u32>p);
    next = p + 1;
  }
  store<u32>(s, x, 0);
  store<u32>(s, <u32>pos, 4);
  if (paired) {
    store<u32>(v, y, 0);
    store<u32>(v, <u32>vpos, 4);
  }
  store<u64>(r, bitPos, 16);
  return 0;
}

/** One bucketed value (symbol + raw low bits) from a decoder whose state the caller holds in memory. */
function decodeBucketed(s: usize, r: usize): i64 {
  let x = load<u32>(s, 0);
  let pos = <usize>load<u32>(s, 4);
  const slot = x & load<u32>(s, 20);
  const st = load<u32>(<usize>load<u32>(s, 16) + (<usize>slot << 2));
  x = (st >> 16) * (x >> load<u32>(s, 24)) + (st & 0xffff);
  while (x < RANS_L) {
    if (pos >= <usize>load<u32>(s, 8)) return E_RANS_TRUNCATED;
    x = (x << 8) | <u32>load<u8>(pos++);
  }
  store<u32>(s, x, 0);
  store<u32>(s, <u32>pos, 4);
  const b = <u32>load<u16>(<usize>load<u32>(s, 12) + (<usize>slot << 1));
  const e = <u32>load<u8>(bucketExtra + <usize>b);
  const bitPos = load<u64>(r, 16);
  if (bitPos + e > load<u64>(r, 8)) return E_RAW_TRUNCATED;
  store<u64>(r, bitPos + e, 16);
  return <i64>load<i32>(bucketBase + (<usize>b << 2)) + <i64>peekBits(<usize>load<u32>(r, 0), bitPos, e);
}

/** Positions coded as runs: per run, (unchanged before it, length − 1). Runs are rare, so this one keeps its state in memory. */
export function decodeRuns(s: usize, r: usize, n: u32, elements: u32, out: usize): i32 {
  let next: i64 = 0;
  for (let i: u32 = 0; i < n; ) {
    const gap = decodeBucketed(s, r);
    if (gap < 0) return <i32>gap;
    const lengthLess1 = decodeBucketed(s, r);
    if (lengthLess1 < 0) return <i32>lengthLess1;
    const start = next + gap;
    const length = lengthLess1 + 1;
    if (length > <i64>(n - i) || start + length > <i64>elements) return E_RUN;
    for (let k: u32 = 0; k < <u32>length; k++) store<u32>(out + (<usize>(i + k) << 2), <u32>start + k);
    i += <u32>length;
    next = start + length;
  }
  return 0;
}

/** Ulp deltas: symbol 2 · bucket(zig-zag) + sign flip, then raw bits; writes flips (u8) and magnitude deltas (u32). */
export function decodeDeltas(s: usize, r: usize, n: u32, half: u32, magMask: u32, outFlips: usize, outMags: usize): i32 {
  let x = load<u32>(s, 0);
  let pos = <usize>load<u32>(s, 4);
  const end = <usize>load<u32>(s, 8);
  const sym = <usize>load<u32>(s, 12);
  const step = <usize>load<u32>(s, 16);
  const mask = load<u32>(s, 20);
  const scaleBits = load<u32>(s, 24);
  const last8 = <usize>load<u32>(r, 0);
  const endBits = load<u64>(r, 8);
  let bitPos = load<u64>(r, 16);
  const halfI = <i64>half;
  for (let i: u32 = 0; i < n; i++) {
    const slot = x & mask;
    const st = load<u32>(step + (<usize>slot << 2));
    x = (st >> 16) * (x >> scaleBits) + (st & 0xffff);
    while (x < RANS_L) {
      if (pos >= end) return E_RANS_TRUNCATED;
      x = (x << 8) | <u32>load<u8>(pos++);
    }
    const sy = <u32>load<u16>(sym + (<usize>slot << 1));
    const flip = sy & 1;
    const b = sy >> 1;
    // Buckets below DIRECT are exact (no raw bits): most deltas are ±1 or ±2 ulps, and skipping the raw read for
    // them made decode alone 1.07–1.11× faster on the bench's bf16 and f16 Adam cases (same process, alternating).
    let low: u32 = 0;
    if (b >= DIRECT) {
      const e = <u32>load<u8>(bucketExtra + <usize>b);
      if (bitPos + e > endBits) return E_RAW_TRUNCATED;
      low = peekBits(last8, bitPos, e);
      bitPos += e;
    }
    const zz = <u64>load<i32>(bucketBase + (<usize>b << 2)) + low + (flip ^ 1);
    const signed: i64 = (zz & 1) == 0 ? <i64>(zz >> 1) : -<i64>((zz >> 1) + 1);
    if (signed >= halfI || signed < -halfI) return E_DELTA;
    store<u8>(outFlips + <usize>i, <u8>flip);
    store<u32>(outMags + (<usize>i << 2), <u32>signed & magMask);
  }
  store<u32>(s, x, 0);
  store<u32>(s, <u32>pos, 4);
  store<u64>(r, bitPos, 16);
  return 0;
}

/**
 * Full values: symbol = sign and exponent, then the mantissa raw; `width` 2
 * writes u16, 4 writes u32. With mantissaBits 0 it decodes bare symbols (the
 * scaled deltas, whose raw bits apply reads against the base).
 */
export function decodeHeads(s: usize, r: usize, n: u32, mantissaBits: u32, out: usize, width: u32): i32 {
  let x = load<u32>(s, 0);
  let pos = <usize>load<u32>(s, 4);
  const end = <usize>load<u32>(s, 8);
  const sym = <usize>load<u32>(s, 12);
  const step = <usize>load<u32>(s, 16);
  const mask = load<u32>(s, 20);
  const scaleBits = load<u32>(s, 24);
  const last8 = <usize>load<u32>(r, 0);
  let bitPos = load<u64>(r, 16);
  if (bitPos + <u64>n * mantissaBits > load<u64>(r, 8)) return E_RAW_TRUNCATED;
  for (let i: u32 = 0; i < n; i++) {
    const slot = x & mask;
    const st = load<u32>(step + (<usize>slot << 2));
    x = (st >> 16) * (x >> scaleBits) + (st & 0xffff);
    while (x < RANS_L) {
      if (pos >= end) return E_RANS_TRUNCATED;
      x = (x << 8) | <u32>load<u8>(pos++);
    }
    const v = ((<u32>load<u16>(sym + (<usize>slot << 1))) << mantissaBits) | peekBits(last8, bitPos, mantissaBits);
    bitPos += mantissaBits;
    if (width == 2) store<u16>(out + (<usize>i << 1), <u16>v);
    else store<u32>(out + (<usize>i << 2), v);
  }
  store<u32>(s, x, 0);
  store<u32>(s, <u32>pos, 4);
  store<u64>(r, bitPos, 16);
  return 0;
}

// ---------------------------------------------------------------- applying

/**
 * Writes over the value `o` at `at` (u16 when width is 2, else u32) that value
 * with its sign flipped where `flip` is odd and its magnitude bits moved by
 * `delta`, wrapping within them: an ulp change, as apply.ts's ulp loops make it.
 */
@inline function storeUlp(width: u32, at: usize, o: u32, flip: u32, delta: u32): void {
  const signShift: u32 = width * 8 - 1;
  const signBit: u32 = 1 << signShift;
  const magMask: u32 = signBit - 1;
  const v = ((o ^ (flip << signShift)) & signBit) | (((o & magMask) + delta) & magMask);
  if (width == 2) store<u16>(at, <u16>v);
  else store<u32>(at, v);
}

/**
 * A scaled tensor's changes written in place over its values at `data`, in
 * order, as scaled.ts ScaledWriter writes them (the JS path for changes out
 * of order and realms without WebAssembly): each change's bucket is its symbol shifted back by the
 * old value's biased exponent, its raw bits come from reader `r`. A change
 * that fails writes nothing more: its index is stored at r + 4 and the error
 * returned (E_POSITION, E_SCALED, E_RAW_TRUNCATED or E_DELTA).
 */
export function applyScaled16(data: usize, n: u32, mantissaBits: u32, expMask: u32, positions: usize, symbols: usize, count: u32, r: usize): i32 {
  return scaledLoop(2, data, n, mantissaBits, expMask, positions, symbols, count, r);
}

export function applyScaled32(data: usize, n: u32, mantissaBits: u32, expMask: u32, positions: usize, symbols: usize, count: u32, r: usize): i32 {
  return scaledLoop(4, data, n, mantissaBits, expMask, positions, symbols, count, r);
}

/** Inlined with `width` a constant, so each kernel compiles to its own loop. */
@inline function scaledLoop(width: u32, data: usize, n: u32, mantissaBits: u32, expMask: u32, positions: usize, symbols: usize, count: u32, r: usize): i32 {
  const magMask: u32 = width == 2 ? 0x7fff : 0x7fffffff;
  const last8 = <usize>load<u32>(r, 0);
  const endBits = load<u64>(r, 8);
  let bitPos = load<u64>(r, 16);
  let rc: i32 = 0;
  let i: u32 = 0;
  for (; i < count; i++) {
    const p = load<u32>(positions + (<usize>i << 2));
    if (p >= n) {
      rc = E_POSITION;
      break;
    }
    const s = <u32>load<u16>(symbols + (<usize>i << 1));
    const at = data + (<usize>p << (width == 2 ? 1 : 2));
    const o: u32 = width == 2 ? <u32>load<u16>(at) : load<u32>(at);
    const b = <i32>(s >> 1) - <i32>(((o >> mantissaBits) & expMask) << M);
    if (<u32>b >= bucketCount) { // a negative b too
      rc = E_SCALED;
      break;
    }
    const e = <u32>load<u8>(bucketExtra + <usize>b);
    let low: u32 = 0;
    if (e > 0) {
      if (bitPos + e > endBits) {
        rc = E_RAW_TRUNCATED;
        break;
      }
      low = peekBits(last8, bitPos, e);
      bitPos += e;
    }
    // The zig-zag of decodeDeltas; in range exactly when it is at most magMask.
    const zz = <u64>load<i32>(bucketBase + (<usize>b << 2)) + <u64>low + <u64>((s & 1) ^ 1);
    if (zz > <u64>magMask) {
      rc = E_DELTA;
      break;
    }
    const z = <u32>zz;
    storeUlp(width, at, o, s & 1, (z >> 1) ^ (0 - (z & 1)));
  }
  store<u32>(r, i, 4);
  store<u64>(r, bitPos, 16);
  return rc;
}

/** Raw changes (new bit patterns, u32 each) written over a tensor's values at `data`, in order; returns how many, as applyUlp. */
export function applyRaw16(data: usize, n: u32, positions: usize, bits: usize, count: u32): u32 {
  return rawLoop(2, data, n, positions, bits, count);
}

export function applyRaw32(data: usize, n: u32, positions: usize, bits: usize, count: u32): u32 {
  return rawLoop(4, data, n, positions, bits, count);
}

@inline function rawLoop(width: u32, data: usize, n: u32, positions: usize, bits: usize, count: u32): u32 {
  for (let i: u32 = 0; i < count; i++) {
    const p = load<u32>(positions + (<usize>i << 2));
    if (p >= n) return i;
    const v = load<u32>(bits + (<usize>i << 2));
    if (width == 2) store<u16>(data + (<usize>p << 1), <u16>v);
    else store<u32>(data + (<usize>p << 2), v);
  }
  return count;
}

/**
 * Ulp changes written in place over a tensor's values at `data` (u16 when
 * width is 2, else u32), in order, as apply.ts's ulp loops write them: the
 * sign flipped when the change's flip byte is odd, the magnitude bits moved
 * by its delta. Returns how many were written: fewer than `count` when the
 * next one lies past `n`.
 */
export function applyUlp16(data: usize, n: u32, positions: usize, flips: usize, mags: usize, count: u32): u32 {
  return ulpLoop(2, data, n, positions, flips, mags, count);
}

export function applyUlp32(data: usize, n: u32, positions: usize, flips: usize, mags: usize, count: u32): u32 {
  return ulpLoop(4, data, n, positions, flips, mags, count);
}

@inline function ulpLoop(width: u32, data: usize, n: u32, positions: usize, flips: usize, mags: usize, count: u32): u32 {
  for (let i: u32 = 0; i < count; i++) {
    const p = load<u32>(positions + (<usize>i << 2));
    if (p >= n) return i;
    const at = data + (<usize>p << (width == 2 ? 1 : 2));
    const o: u32 = width == 2 ? <u32>load<u16>(at) : load<u32>(at);
    storeUlp(width, at, o, <u32>load<u8>(flips + <usize>i), load<u32>(mags + (<usize>i << 2)));
  }
  return count;
}

// ---------------------------------------------------------------- encoding

/*
 * The raw-bit writer of the running encode kernel lives in these globals
 * between openWriter(w) and closeWriter(w), which move it from and back to
 * its struct in memory, so each kernel's loop appends with putBits.
 */
let wOut: usize = 0;
let wLen: usize = 0;
let wAcc: u64 = 0;
let wPending: u32 = 0;

@inline function openWriter(w: usize): void {
  wOut = <usize>load<u32>(w, 0);
  wLen = <usize>load<u32>(w, 4);
  wAcc = load<u64>(w, 8);
  wPending = load<u32>(w, 16);
}

@inline function closeWriter(w: usize): void {
  store<u32>(w, <u32>wLen, 4);
  store<u64>(w, wAcc, 8);
  store<u32>(w, wPending, 16);
}

/** Appends the low `e` (0..31) bits of `v`, MSB first; flushes 32 bits at a time (stale bits above the pending ones are never read). */
@inline function putBits(v: u32, e: u32): void {
  wAcc = (wAcc << e) | <u64>v;
  wPending += e;
  if (wPending >= 32) {
    wPending -= 32;
    store<u32>(wOut + wLen, bswap<u32>(<u32>(wAcc >> wPending)));
    wLen += 4;
  }
}

/** Appends symbol `sy` at syms[g] and counts it. */
@inline function putSymbol(sy: u32, syms: usize, g: u32, counts: usize): void {
  store<u16>(syms + (<usize>g << 1), <u16>sy);
  const c = counts + (<usize>sy << 2);
  store<u32>(c, load<u32>(c) + 1);
}

/** The raw bits of `v` below its bucket `b`. */
@inline function putBucketLow(v: u32, b: u32): void {
  putBits(v - <u32>load<i32>(bucketBase + (<usize>b << 2)), <u32>load<u8>(bucketExtra + <usize>b));
}

/** Gap symbols of strictly increasing positions (checked by the caller); appends to syms at `at`, returns the new length. */
export function encodeGaps(positions: usize, n: u32, syms: usize, at: u32, counts: usize, w: usize): u32 {
  openWriter(w);
  let next: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const p = load<u32>(positions + (<usize>i << 2));
    const gap = p - next;
    next = p + 1;
    const b = bucketOf(gap);
    putSymbol(b, syms, at + i, counts);
    putBucketLow(gap, b);
  }
  closeWriter(w);
  return at + n;
}

export function encodeRuns(positions: usize, n: u32, syms: usize, at: u32, counts: usize, w: usize): u32 {
  openWriter(w);
  let g = at;
  let next: u32 = 0;
  for (let i: u32 = 0; i < n; ) {
    const start = load<u32>(positions + (<usize>i << 2));
    let end = i + 1;
    while (end < n && load<u32>(positions + (<usize>end << 2)) == start + (end - i)) end++;
    const gap = start - next;
    let b = bucketOf(gap);
    putSymbol(b, syms, g++, counts);
    putBucketLow(gap, b);
    const lengthLess1 = end - i - 1;
    b = bucketOf(lengthLess1);
    putSymbol(b, syms, g++, counts);
    putBucketLow(lengthLess1, b);
    next = start + (end - i);
    i = end;
  }
  closeWriter(w);
  return g;
}

/**
 * Delta symbols; returns the index of the first malformed change (flip > 1,
 * delta ≥ 2·half, no-op), or −1. With `exps` (u8 old exponents, else 0) the
 * symbols are scaled ones (scaled.ts): the bucket shifted by the exponent.
 */
export function encodeDeltas(flips: usize, mags: usize, exps: usize, n: u32, half: u32, syms: usize, at: u32, counts: usize, w: usize): i32 {
  openWriter(w);
  const limit = half * 2;
  let bad: i32 = -1;
  for (let i: u32 = 0; i < n; i++) {
    const flip = <u32>load<u8>(flips + <usize>i);
    const md = load<u32>(mags + (<usize>i << 2));
    if (flip > 1 || md >= limit || (flip == 0 && md == 0)) {
      bad = <i32>i;
      break;
    }
    const signed: i32 = md >= half ? <i32>md - <i32>limit : <i32>md;
    // Zig-zag; without a flip the delta is never 0, so shift by one.
    const zz: u32 = (signed >= 0 ? <u32>signed * 2 : <u32>(-signed) * 2 - 1) - (flip ^ 1);
    const b = bucketOf(zz);
    const shift: u32 = exps == 0 ? 0 : <u32>load<u8>(exps + <usize>i) << M;
    putSymbol(2 * (b + shift) + flip, syms, at + i, counts);
    putBucketLow(zz, b);
  }
  closeWriter(w);
  return bad;
}

/** Head symbols (sign and exponent) and raw mantissas of `n` values of `width` bytes. */
export function encodeHeads(data: usize, n: u32, width: u32, mantissaBits: u32, syms: usize, at: u32, counts: usize, w: usize): u32 {
  openWriter(w);
  const mantissaMask: u32 = (1 << mantissaBits) - 1;
  for (let i: u32 = 0; i < n; i++) {
    const v = width == 2 ? <u32>load<u16>(data + (<usize>i << 1)) : load<u32>(data + (<usize>i << 2));
    putSymbol(v >> mantissaBits, syms, at + i, counts);
    putBits(v & mantissaMask, mantissaBits);
  }
  closeWriter(w);
  return at + n;
}

/** Flushes the writer's last bits, the final byte zero-padded like BitWriter.finish; returns the byte length. */
export function finishBits(w: usize): u32 {
  openWriter(w);
  while (wPending >= 8) {
    wPending -= 8;
    store<u8>(wOut + wLen++, <u8>(wAcc >> wPending));
  }
  if (wPending > 0) store<u8>(wOut + wLen++, <u8>(wAcc << (8 - wPending)));
  wPending = 0;
  closeWriter(w);
  return <u32>wLen;
}

/**
 * rANS-encodes syms[0..count) backwards into the bytes before `outEnd` and
 * returns where the stream starts (4 bytes of final state first). freq and
 * cum are u32 per symbol; `enc` is scratch for 16 bytes per symbol. x / f is
 * a multiply by an exact 32-bit reciprocal and a shift (Alverson's method, as
 * in ryg_rans): for x < 2^31 it gives the exact quotient, so the stream is
 * the one rans.ts writes with its floating-point reciprocal.
 */
export function ransEncode(syms: usize, count: u32, freq: usize, cum: usize, alphabet: u32, scaleBits: u32, enc: usize, outEnd: usize): usize {
  const scale: u32 = 1 << scaleBits;
  for (let s: u32 = 0; s < alphabet; s++) {
    const f = load<u32>(freq + (<usize>s << 2));
    if (f == 0) continue;
    const c = load<u32>(cum + (<usize>s << 2));
    const e = enc + (<usize>s << 4);
    store<u32>(e, f << (31 - scaleBits), 0); // renormalise while x ≥ this
    if (f < 2) {
      // q = x − 1 (x · (2^32 − 1) >> 32), and the bias makes up the difference.
      store<u32>(e, 0xffffffff, 4);
      store<u32>(e, c + scale - 1, 8);
      store<u32>(e, (scale - f) << 16, 12);
    } else {
      let shift: u32 = 0;
      while (f > (<u32>1 << shift)) shift++;
      store<u32>(e, <u32>(((<u64>1 << (shift + 31)) + f - 1) / f), 4);
      store<u32>(e, c, 8);
      store<u32>(e, ((scale - f) << 16) | (shift - 1), 12);
    }
  }
  let pos = outEnd;
  let x: u32 = RANS_L;
  for (let i = <i32>count - 1; i >= 0; i--) {
    const e = enc + (<usize>load<u16>(syms + (<usize>i << 1)) << 4);
    const xmax = load<u32>(e, 0);
    while (x >= xmax) {
      store<u8>(--pos, <u8>x);
      x >>= 8;
    }
    const packed = load<u32>(e, 12);
    const q = <u32>((<u64>x * <u64>load<u32>(e, 4)) >> 32) >> (packed & 0xffff);
    x = x + load<u32>(e, 8) + q * (packed >> 16);
  }
  pos -= 4;
  store<u32>(pos, bswap<u32>(x));
  return pos;
}

// ---------------------------------------------------------------- diffing

/**
 * Compares a[0..n) with b[0..n) (`width` 2 or 4 bytes per value), 32 bytes
 * at a time with SIMD, and appends each changed index + `first` to
 * positions. Unless `positionsOnly`, also the change's sign flip (u8),
 * magnitude delta (u32), old biased exponent (u8) and new value (u32), and the sums diff.ts's
 * kind choice needs, in `sums`: u64 Σ class bits · u32 class histogram [33] ·
 * u32 head histogram [2^(1 + exponent bits)] · u32 scaled-class histogram
 * [33 + 2^exponent bits]. Returns the number of changes. The same sums as
 * diff.ts record().
 */
export function scan(
  a: usize,
  b: usize,
  n: u32,
  width: u32,
  mantissaBits: u32,
  first: u32,
  positionsOnly: bool,
  positions: usize,
  flips: usize,
  mags: usize,
  exps: usize,
  news: usize,
  sums: usize,
): u32 {
  const exponentBits = width * 8 - 1 - mantissaBits;
  const scaledHist = sums + 8 + 33 * 4 + (<usize>4 << (1 + exponentBits));
  const bytes = <usize>n * width;
  let count: u32 = 0;
  let at: usize = 0;
  while (at < bytes) {
    if (at + 32 <= bytes) {
      const d = v128.or(v128.xor(v128.load(a + at), v128.load(b + at)), v128.xor(v128.load(a + at, 16), v128.load(b + at, 16)));
      if (!v128.any_true(d)) {
        at += 32;
        continue;
      }
    }
    const stop = min<usize>(at + 32, bytes);
    for (; at < stop; at += width) {
      const o = width == 2 ? <u32>load<u16>(a + at) : load<u32>(a + at);
      const v = width == 2 ? <u32>load<u16>(b + at) : load<u32>(b + at);
      if (o == v) continue;
      store<u32>(positions + (<usize>count << 2), first + <u32>(at / width));
      if (!positionsOnly) record(o, v, width, mantissaBits, count, flips, mags, exps, news, sums, scaledHist);
      count++;
    }
  }
  return count;
}

@inline function record(o: u32, v: u32, width: u32, mantissaBits: u32, c: u32, flips: usize, mags: usize, exps: usize, news: usize, sums: usize, scaledHist: usize): void {
  const signShift = width * 8 - 1;
  const magMask: u32 = (<u32>1 << signShift) - 1;
  const half: u32 = <u32>1 << (signShift - 1);
  const flip = ((o ^ v) >> signShift) & 1;
  const md = ((v & magMask) - (o & magMask)) & magMask;
  store<u8>(flips + <usize>c, <u8>flip);
  store<u32>(mags + (<usize>c << 2), md);
  store<u32>(news + (<usize>c << 2), v);
  const signed: i32 = md >= half ? <i32>md - <i32>(half * 2) : <i32>md;
  const zz: u32 = signed >= 0 ? <u32>signed * 2 : <u32>(-signed) * 2 - 1;
  const k: u32 = 31 - clz<u32>(flip ? zz + 1 : zz);
  const ch = sums + 8 + (<usize>k << 2);
  store<u32>(ch, load<u32>(ch) + 1);
  store<u64>(sums, load<u64>(sums) + k);
  const hh = sums + 8 + 33 * 4 + (<usize>(v >> mantissaBits) << 2);
  store<u32>(hh, load<u32>(hh) + 1);
  const e = (o & magMask) >> mantissaBits;
  store<u8>(exps + <usize>c, <u8>e);
  const sh = scaledHist + (<usize>(k + e) << 2);
  store<u32>(sh, load<u32>(sh) + 1);
}

// ---------------------------------------------------------------- hashing

/*
 * Streaming xxh3-128 (seed 0, the default 192-byte secret) for inputs longer
 * than 240 bytes, bit for bit what XXH3_128bits_update/_digest return
 * (xxh3.test.ts holds it to hash-wasm, which wraps the reference C). The
 * stripe accumulation runs on 128-bit lanes: two of xxh3's eight 64-bit
 * accumulators per vector. shorter inputs and realms without WebAssembly
 * use hash-wasm (hash.ts).
 *
 * State (XXH3_STATE_BYTES of xxh3.ts): u64 acc[8] · 256-byte buffer ·
 * u32 bufferedSize · u32 stripes in the current block · u64 totalLen ·
 * 64 bytes of scratch for the last stripe.
 */

const STRIPE: usize = 64;
const SECRET_LIMIT: usize = 192 - STRIPE;
const STRIPES_PER_BLOCK: u32 = 16;
const HASH_BUFFER: usize = 256;
const S_BUFFER: usize = 64;
const S_BUFFERED: usize = 320;
const S_SO_FAR: usize = 324;
const S_TOTAL: usize = 328;
const S_SCRATCH: usize = 336;
const PRIME32_1: u64 = 0x9e3779b1;
const PRIME64_1: u64 = 0x9e3779b185ebca87;
const PRIME64_2: u64 = 0xc2b2ae3d27d4eb4f;

let secret: usize = 0;

/** Where the caller put the default secret (192 bytes, xxh3.ts XXH3_SECRET). */
export function setSecret(at: usize): void {
  secret = at;
}

/** acc += swap64(data) + lo32(data ^ key) · hi32(data ^ key), for two accumulators. */
@inline function accumulateLanes(acc: v128, data: v128, key: v128): v128 {
  const dk = v128.xor(data, key);
  const product = i64x2.extmul_low_i32x4_u(i32x4.shuffle(dk, dk, 0, 2, 0, 2), i32x4.shuffle(dk, dk, 1, 3, 1, 3));
  return i64x2.add(acc, i64x2.add(product, i64x2.shuffle(data, data, 1, 0)));
}

/** `stripes` 64-byte stripes at `input`, the i-th keyed by the secret at `sec` + 8i. */
function accumulate(st: usize, input: usize, sec: usize, stripes: u32): void {
  let a0 = v128.load(st, 0);
  let a1 = v128.load(st, 16);
  let a2 = v128.load(st, 32);
  let a3 = v128.load(st, 48);
  for (let s: u32 = 0; s < stripes; s++) {
    const p = input + (<usize>s << 6);
    const k = sec + (<usize>s << 3);
    a0 = accumulateLanes(a0, v128.load(p, 0), v128.load(k, 0));
    a1 = accumulateLanes(a1, v128.load(p, 16), v128.load(k, 16));
    a2 = accumulateLanes(a2, v128.load(p, 32), v128.load(k, 32));
    a3 = accumulateLanes(a3, v128.load(p, 48), v128.load(k, 48));
  }
  v128.store(st, a0, 0);
  v128.store(st, a1, 16);
  v128.store(st, a2, 32);
  v128.store(st, a3, 48);
}

@inline function scrambleLanes(acc: v128, key: v128): v128 {
  return i64x2.mul(v128.xor(v128.xor(acc, i64x2.shr_u(acc, 47)), key), i64x2.splat(PRIME32_1));
}

function scramble(st: usize): void {
  const k = secret + SECRET_LIMIT;
  v128.store(st, scrambleLanes(v128.load(st, 0), v128.load(k, 0)), 0);
  v128.store(st, scrambleLanes(v128.load(st, 16), v128.load(k, 16)), 16);
  v128.store(st, scrambleLanes(v128.load(st, 32), v128.load(k, 32)), 32);
  v128.store(st, scrambleLanes(v128.load(st, 48), v128.load(k, 48)), 48);
}

/** XXH3_consumeStripes: scrambles at each block end; returns the input after the stripes. */
function consumeStripes(st: usize, input: usize, stripes: u32): usize {
  let soFar = load<u32>(st, S_SO_FAR);
  if (stripes >= STRIPES_PER_BLOCK - soFar) {
    let now = STRIPES_PER_BLOCK - soFar;
    let sec = secret + (<usize>soFar << 3);
    do {
      accumulate(st, input, sec, now);
      scramble(st);
      input += <usize>now << 6;
      stripes -= now;
      now = STRIPES_PER_BLOCK;
      sec = secret;
    } while (stripes >= STRIPES_PER_BLOCK);
    soFar = 0;
  }
  if (stripes > 0) {
    accumulate(st, input, secret + (<usize>soFar << 3), stripes);
    input += <usize>stripes << 6;
    soFar += stripes;
  }
  store<u32>(st, soFar, S_SO_FAR);
  return input;
}

/** XXH3_128bits_update: `len` bytes at `input`. */
export function xxh3Update(st: usize, input: usize, len: usize): void {
  store<u64>(st, load<u64>(st, S_TOTAL) + <u64>len, S_TOTAL);
  const buffer = st + S_BUFFER;
  const buffered = <usize>load<u32>(st, S_BUFFERED);
  if (len <= HASH_BUFFER - buffered) {
    memory.copy(buffer + buffered, input, len);
    store<u32>(st, <u32>(buffered + len), S_BUFFERED);
    return;
  }
  const end = input + len;
  if (buffered != 0) {
    const fill = HASH_BUFFER - buffered;
    memory.copy(buffer + buffered, input, fill);
    input += fill;
    consumeStripes(st, buffer, <u32>(HASH_BUFFER / STRIPE));
  }
  if (end - input > HASH_BUFFER) {
    input = consumeStripes(st, input, <u32>((end - 1 - input) / STRIPE));
    memory.copy(buffer + HASH_BUFFER - STRIPE, input - STRIPE, STRIPE);
  }
  memory.copy(buffer, input, end - input);
  store<u32>(st, <u32>(end - input), S_BUFFERED);
}

/** 64 × 64 → 128-bit product, halves xor-ed (XXH3_mul128_fold64, portable form). */
@inline function mulFold(a: u64, b: u64): u64 {
  const lolo = (a & 0xffffffff) * (b & 0xffffffff);
  const hilo = (a >> 32) * (b & 0xffffffff);
  const lohi = (a & 0xffffffff) * (b >> 32);
  const hihi = (a >> 32) * (b >> 32);
  const cross = (lolo >> 32) + (hilo & 0xffffffff) + lohi;
  const upper = (hilo >> 32) + (cross >> 32) + hihi;
  return ((cross << 32) | (lolo & 0xffffffff)) ^ upper;
}

function mergeAccs(st: usize, sec: usize, start: u64): u64 {
  let h = start;
  for (let i: usize = 0; i < 4; i++) {
    h += mulFold(load<u64>(st + (i << 4)) ^ load<u64>(sec + (i << 4)), load<u64>(st + (i << 4), 8) ^ load<u64>(sec + (i << 4), 8));
  }
  h ^= h >> 37;
  h *= 0x165667919e3779f9;
  return h ^ (h >> 32);
}

/** XXH3_128bits_digest for totalLen > 240, as the canonical 16 bytes (high half first, big-endian) at `out`. Ends the stream. */
export function xxh3Digest(st: usize, out: usize): void {
  const buffer = st + S_BUFFER;
  const buffered = <usize>load<u32>(st, S_BUFFERED);
  let last: usize;
  if (buffered >= STRIPE) {
    consumeStripes(st, buffer, <u32>((buffered - 1) / STRIPE));
    last = buffer + buffered - STRIPE;
  } else {
    last = st + S_SCRATCH;
    const catchUp = STRIPE - buffered;
    memory.copy(last, buffer + HASH_BUFFER - catchUp, catchUp);
    memory.copy(last + catchUp, buffer, buffered);
  }
  accumulate(st, last, secret + SECRET_LIMIT - 7, 1);
  const len = load<u64>(st, S_TOTAL);
  const low = mergeAccs(st, secret + 11, len * PRIME64_1);
  const high = mergeAccs(st, secret + SECRET_LIMIT - 11, ~(len * PRIME64_2));
  store<u64>(out, bswap<u64>(high), 0);
  store<u64>(out, bswap<u64>(low), 8);
}

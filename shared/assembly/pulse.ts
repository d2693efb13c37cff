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
 *   raw reader    u32 bytes · pad · u64 endBits · u64 bitPos
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

let bucketBase: usize = 0;
let bucketExtra: usize = 0;

export function bucketMantissaBits(): u32 {
  return M;
}

/** Where the caller put BUCKETS.base (i32 per bucket) and BUCKETS.extra (u8 per bucket). */
export function setBuckets(base: usize, extra: usize): void {
  bucketBase = base;
  bucketExtra = extra;
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

/** Reads `e` (0..31) bits MSB-first at `bitPos`; the caller checked bitPos + e ≤ endBits and the stream has 8 bytes of slack. */
@inline function peekBits(bytes: usize, bitPos: u64, e: u32): u32 {
  const w = bswap<u64>(load<u64>(bytes + <usize>(bitPos >> 3)));
  return <u32>(((w << (bitPos & 7)) >> 1) >> (63 - <u64>e));
}

export function decodeGaps(s: usize, r: usize, n: u32, elements: u32, out: usize): i32 {
  let x = load<u32>(s, 0);
  let pos = <usize>load<u32>(s, 4);
  const end = <usize>load<u32>(s, 8);
  const sym = <usize>load<u32>(s, 12);
  const step = <usize>load<u32>(s, 16);
  const mask = load<u32>(s, 20);
  const scaleBits = load<u32>(s, 24);
  const bytes = <usize>load<u32>(r, 0);
  const endBits = load<u64>(r, 8);
  let bitPos = load<u64>(r, 16);
  let next: u64 = 0; // previous position + 1
  for (let i: u32 = 0; i < n; i++) {
    const slot = x & mask;
    const st = load<u32>(step + (<usize>slot << 2));
    x = (st >> 16) * (x >> scaleBits) + (st & 0xffff);
    while (x < RANS_L) {
      if (pos >= end) return E_RANS_TRUNCATED;
      x = (x << 8) | <u32>load<u8>(pos++);
    }
    const b = <u32>load<u16>(sym + (<usize>slot << 1));
    const e = <u32>load<u8>(bucketExtra + <usize>b);
    if (bitPos + e > endBits) return E_RAW_TRUNCATED;
    const low = peekBits(bytes, bitPos, e);
    bitPos += e;
    const p = next + <u64>load<i32>(bucketBase + (<usize>b << 2)) + low;
    if (p >= <u64>elements) return E_POSITION;
    store<u32>(out + (<usize>i << 2), <u32>p);
    next = p + 1;
  }
  store<u32>(s, x, 0);
  store<u32>(s, <u32>pos, 4);
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

/** Bare symbols (u16), no raw bits: the scaled deltas, whose raw bits apply reads against the base. */
export function decodeSymbols(s: usize, n: u32, out: usize): i32 {
  let x = load<u32>(s, 0);
  let pos = <usize>load<u32>(s, 4);
  const end = <usize>load<u32>(s, 8);
  const sym = <usize>load<u32>(s, 12);
  const step = <usize>load<u32>(s, 16);
  const mask = load<u32>(s, 20);
  const scaleBits = load<u32>(s, 24);
  for (let i: u32 = 0; i < n; i++) {
    const slot = x & mask;
    const st = load<u32>(step + (<usize>slot << 2));
    x = (st >> 16) * (x >> scaleBits) + (st & 0xffff);
    while (x < RANS_L) {
      if (pos >= end) return E_RANS_TRUNCATED;
      x = (x << 8) | <u32>load<u8>(pos++);
    }
    store<u16>(out + (<usize>i << 1), load<u16>(sym + (<usize>slot << 1)));
  }
  store<u32>(s, x, 0);
  store<u32>(s, <u32>pos, 4);
  return 0;
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
  const bytes = <usize>load<u32>(r, 0);
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
    const e = <u32>load<u8>(bucketExtra + <usize>b);
    if (bitPos + e > endBits) return E_RAW_TRUNCATED;
    const low = peekBits(bytes, bitPos, e);
    bitPos += e;
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

/** Full values: symbol = sign and exponent, then the mantissa raw; `width` 2 writes u16, 4 writes u32. */
export function decodeHeads(s: usize, r: usize, n: u32, mantissaBits: u32, out: usize, width: u32): i32 {
  let x = load<u32>(s, 0);
  let pos = <usize>load<u32>(s, 4);
  const end = <usize>load<u32>(s, 8);
  const sym = <usize>load<u32>(s, 12);
  const step = <usize>load<u32>(s, 16);
  const mask = load<u32>(s, 20);
  const scaleBits = load<u32>(s, 24);
  const bytes = <usize>load<u32>(r, 0);
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
    const v = ((<u32>load<u16>(sym + (<usize>slot << 1))) << mantissaBits) | peekBits(bytes, bitPos, mantissaBits);
    bitPos += mantissaBits;
    if (width == 2) store<u16>(out + (<usize>i << 1), <u16>v);
    else store<u32>(out + (<usize>i << 2), v);
  }
  store<u32>(s, x, 0);
  store<u32>(s, <u32>pos, 4);
  store<u64>(r, bitPos, 16);
  return 0;
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

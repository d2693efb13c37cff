/**
 * Training kernels in WebAssembly (AssemblyScript, f32 with 128-bit SIMD).
 * `npm run build:wasm:train` compiles this file into
 * shared/src/train/wasm/kernels.wasm.ts. Each kernel computes what the
 * float64 reference layer of the same name in shared/src/train/layers/ does,
 * in f32; shared/src/train/wasm/ checks them against it.
 *
 * Pointers are byte addresses into the imported memory, laid out by the
 * caller (one arena, see layout.ts); a zero bias pointer means no bias.
 * Every width the SIMD loops walk is a multiple of 4 (validateGptConfig).
 * Backward kernels accumulate into their gradient outputs.
 */

// ---------------------------------------------------------------- helpers

@inline function ld(p: usize): v128 {
  return v128.load(p);
}

@inline function fma(acc: v128, a: v128, b: v128): v128 {
  return f32x4.add(acc, f32x4.mul(a, b));
}

@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

function dot(a: usize, b: usize, bytes: usize): f32 {
  let s0 = f32x4.splat(0);
  let s1 = f32x4.splat(0);
  let i: usize = 0;
  for (; i + 32 <= bytes; i += 32) {
    s0 = fma(s0, ld(a + i), ld(b + i));
    s1 = fma(s1, ld(a + i + 16), ld(b + i + 16));
  }
  for (; i < bytes; i += 16) s0 = fma(s0, ld(a + i), ld(b + i));
  return hsum(f32x4.add(s0, s1));
}

/** dst[i] += s * src[i] over `bytes` (a multiple of 16). */
function axpy(dst: usize, src: usize, s: f32, bytes: usize): void {
  const sv = f32x4.splat(s);
  for (let i: usize = 0; i < bytes; i += 16) v128.store(dst + i, fma(ld(dst + i), sv, ld(src + i)));
}

// ---------------------------------------------------------------- matmul

/** Rows of w per cache tile in the forward: keeps the tile within ~64 KiB (L2 on any core we target). */
const TILE_BYTES: usize = 65536;

/**
 * out[n, o] = bias[o] + Σ_i inp[n, i] · w[o, i]; w is (Cout, Cin). Blocks of 2 input rows × 4 weight rows:
 * 8 accumulators + 4 weight vectors + 1 input vector fit V8's 16 xmm registers (4×4 blocks spilled: 21
 * against 46 GFLOP/s at 512×256×1024 on one core here), and w is walked in tiles of TILE_BYTES so a tile stays in cache across rows.
 */
export function matmulForward(out: usize, inp: usize, w: usize, bias: usize, N: i32, Cin: i32, Cout: i32): void {
  const row: usize = <usize>Cin << 2;
  const orow: usize = <usize>Cout << 2;
  let tile = <i32>(TILE_BYTES / row) & ~3;
  if (tile < 4) tile = 4;
  for (let o0 = 0; o0 < Cout; o0 += tile) {
    const o1 = min(o0 + tile, Cout);
    let n = 0;
    for (; n + 2 <= N; n += 2) {
      const x0 = inp + <usize>n * row;
      const x1 = x0 + row;
      let o = o0;
      for (; o + 4 <= o1; o += 4) {
        const w0 = w + <usize>o * row;
        const w1 = w0 + row;
        const w2 = w1 + row;
        const w3 = w2 + row;
        let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a02 = f32x4.splat(0), a03 = f32x4.splat(0);
        let a10 = f32x4.splat(0), a11 = f32x4.splat(0), a12 = f32x4.splat(0), a13 = f32x4.splat(0);
        for (let i: usize = 0; i < row; i += 16) {
          const v0 = ld(w0 + i), v1 = ld(w1 + i), v2 = ld(w2 + i), v3 = ld(w3 + i);
          let x = ld(x0 + i);
          a00 = fma(a00, x, v0); a01 = fma(a01, x, v1); a02 = fma(a02, x, v2); a03 = fma(a03, x, v3);
          x = ld(x1 + i);
          a10 = fma(a10, x, v0); a11 = fma(a11, x, v1); a12 = fma(a12, x, v2); a13 = fma(a13, x, v3);
        }
        const b = bias == 0 ? f32x4.splat(0) : ld(bias + (<usize>o << 2));
        const p = out + <usize>n * orow + (<usize>o << 2);
        v128.store(p, f32x4.add(b, hsum4(a00, a01, a02, a03)));
        v128.store(p + orow, f32x4.add(b, hsum4(a10, a11, a12, a13)));
      }
      for (; o < o1; o++) for (let r = 0; r < 2; r++) storeDot(out, inp, w, bias, n + r, o, row, Cout);
    }
    for (; n < N; n++) for (let o = o0; o < o1; o++) storeDot(out, inp, w, bias, n, o, row, Cout);
  }
}

/** [Σa, Σb, Σc, Σd] of four accumulators: a 4×4 transpose by shuffles, then three adds. */
@inline function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab0 = v128.shuffle<f32>(a, b, 0, 4, 1, 5);
  const ab1 = v128.shuffle<f32>(a, b, 2, 6, 3, 7);
  const cd0 = v128.shuffle<f32>(c, d, 0, 4, 1, 5);
  const cd1 = v128.shuffle<f32>(c, d, 2, 6, 3, 7);
  const ab = f32x4.add(ab0, ab1); // a0+a2, b0+b2, a1+a3, b1+b3
  const cd = f32x4.add(cd0, cd1);
  const lo = v128.shuffle<f32>(ab, cd, 0, 1, 4, 5);
  const hi = v128.shuffle<f32>(ab, cd, 2, 3, 6, 7);
  return f32x4.add(lo, hi);
}

function storeDot(out: usize, inp: usize, w: usize, bias: usize, n: i32, o: i32, row: usize, Cout: i32): void {
  const b: f32 = bias == 0 ? 0 : load<f32>(bias + (<usize>o << 2));
  store<f32>(out + ((<usize>n * <usize>Cout + <usize>o) << 2), b + dot(inp + <usize>n * row, w + <usize>o * row, row));
}

/**
 * dinp[n, i] += Σ_o dout[n, o] · w[o, i] in blocks of 2 rows × 16 columns (column strips outermost, so the
 * strip of w stays in cache), then dw[o, i] += Σ_n dout[n, o] · inp[n, i] in blocks of 2 weight rows × 16
 * columns, and dbias[o] += Σ_n dout[n, o]. Two rows keep 8 accumulators + 4 vectors + 1 broadcast within
 * V8's 16 xmm registers (4-row blocks spilled and ran ~1.7× slower).
 */
export function matmulBackward(
  dinp: usize,
  dw: usize,
  dbias: usize,
  dout: usize,
  inp: usize,
  w: usize,
  N: i32,
  Cin: i32,
  Cout: i32,
): void {
  matmulBackwardInput(dinp, dout, w, N, Cin, Cout);
  matmulBackwardWeight(dw, dbias, dout, inp, N, Cin, Cout, Cout);
}

/** dinp[n, :] += dout[n, :] · w for N rows (a thread takes a range of rows). */
export function matmulBackwardInput(dinp: usize, dout: usize, w: usize, N: i32, Cin: i32, Cout: i32): void {
  const row: usize = <usize>Cin << 2;
  const orow: usize = <usize>Cout << 2;
  // dinp = dout · w
  let i: usize = 0;
  for (; i + 64 <= row; i += 64) {
    let n = 0;
    for (; n + 2 <= N; n += 2) {
      const d0 = dout + <usize>n * orow;
      let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a02 = f32x4.splat(0), a03 = f32x4.splat(0);
      let a10 = f32x4.splat(0), a11 = f32x4.splat(0), a12 = f32x4.splat(0), a13 = f32x4.splat(0);
      for (let o = 0; o < Cout; o++) {
        const wp = w + <usize>o * row + i;
        const v0 = ld(wp), v1 = ld(wp + 16), v2 = ld(wp + 32), v3 = ld(wp + 48);
        const dp = d0 + (<usize>o << 2);
        let s = f32x4.splat(load<f32>(dp));
        a00 = fma(a00, s, v0); a01 = fma(a01, s, v1); a02 = fma(a02, s, v2); a03 = fma(a03, s, v3);
        s = f32x4.splat(load<f32>(dp + orow));
        a10 = fma(a10, s, v0); a11 = fma(a11, s, v1); a12 = fma(a12, s, v2); a13 = fma(a13, s, v3);
      }
      const p = dinp + <usize>n * row + i;
      addStore4(p, a00, a01, a02, a03);
      addStore4(p + row, a10, a11, a12, a13);
    }
    for (; n < N; n++) dinpStrip(dinp, dout, w, n, i, 64, row, orow, Cout);
  }
  if (i < row) for (let n = 0; n < N; n++) dinpStrip(dinp, dout, w, n, i, row - i, row, orow, Cout);
}

/**
 * dw[o, :] += Σ_n dout[n, o] · inp[n, :] and dbias[o] += Σ_n dout[n, o] for Cout weight rows, where dout's
 * rows are doutStride floats apart (a thread takes a range of weight rows: dout + o0, dw + o0·Cin).
 */
export function matmulBackwardWeight(
  dw: usize,
  dbias: usize,
  dout: usize,
  inp: usize,
  N: i32,
  Cin: i32,
  Cout: i32,
  doutStride: i32,
): void {
  const row: usize = <usize>Cin << 2;
  const orow: usize = <usize>doutStride << 2;
  // dw = doutᵀ · inp: column strips of inp outermost, so a strip (N × 64 bytes) stays in L1 across all o.
  let j: usize = 0;
  for (; j + 64 <= row; j += 64) {
    let o = 0;
    for (; o + 2 <= Cout; o += 2) {
      let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a02 = f32x4.splat(0), a03 = f32x4.splat(0);
      let a10 = f32x4.splat(0), a11 = f32x4.splat(0), a12 = f32x4.splat(0), a13 = f32x4.splat(0);
      for (let n = 0; n < N; n++) {
        const xp = inp + <usize>n * row + j;
        const v0 = ld(xp), v1 = ld(xp + 16), v2 = ld(xp + 32), v3 = ld(xp + 48);
        const dp = dout + <usize>n * orow + (<usize>o << 2);
        let s = f32x4.splat(load<f32>(dp));
        a00 = fma(a00, s, v0); a01 = fma(a01, s, v1); a02 = fma(a02, s, v2); a03 = fma(a03, s, v3);
        s = f32x4.splat(load<f32>(dp + 4));
        a10 = fma(a10, s, v0); a11 = fma(a11, s, v1); a12 = fma(a12, s, v2); a13 = fma(a13, s, v3);
      }
      const p = dw + <usize>o * row + j;
      addStore4(p, a00, a01, a02, a03);
      addStore4(p + row, a10, a11, a12, a13);
    }
    for (; o < Cout; o++) dwStrip(dw, dout, inp, o, j, 64, row, orow, N);
  }
  if (j < row) for (let o = 0; o < Cout; o++) dwStrip(dw, dout, inp, o, j, row - j, row, orow, N);
  // dbias = Σ_n dout
  if (dbias != 0)
    for (let oo = 0; oo < Cout; oo++) {
      let s: f32 = 0;
      for (let n = 0; n < N; n++) s += load<f32>(dout + <usize>n * orow + (<usize>oo << 2));
      const p = dbias + (<usize>oo << 2);
      store<f32>(p, load<f32>(p) + s);
    }
}

@inline function addStore4(p: usize, a: v128, b: v128, c: v128, d: v128): void {
  v128.store(p, f32x4.add(ld(p), a));
  v128.store(p + 16, f32x4.add(ld(p + 16), b));
  v128.store(p + 32, f32x4.add(ld(p + 32), c));
  v128.store(p + 48, f32x4.add(ld(p + 48), d));
}

function dinpStrip(dinp: usize, dout: usize, w: usize, n: i32, i: usize, bytes: usize, row: usize, orow: usize, Cout: i32): void {
  const dst = dinp + <usize>n * row + i;
  for (let o = 0; o < Cout; o++) axpy(dst, w + <usize>o * row + i, load<f32>(dout + <usize>n * orow + (<usize>o << 2)), bytes);
}

function dwStrip(dw: usize, dout: usize, inp: usize, o: i32, j: usize, bytes: usize, row: usize, orow: usize, N: i32): void {
  const dst = dw + <usize>o * row + j;
  for (let n = 0; n < N; n++) axpy(dst, inp + <usize>n * row + j, load<f32>(dout + <usize>n * orow + (<usize>o << 2)), bytes);
}

// ---------------------------------------------------------------- embedding

export function encoderForward(out: usize, tokens: usize, wte: usize, wpe: usize, B: i32, T: i32, C: i32): void {
  const row: usize = <usize>C << 2;
  for (let bt = 0; bt < B * T; bt++) {
    const o = out + <usize>bt * row;
    const x = wte + <usize>load<i32>(tokens + (<usize>bt << 2)) * row;
    const p = wpe + <usize>(bt % T) * row;
    for (let i: usize = 0; i < row; i += 16) v128.store(o + i, f32x4.add(ld(x + i), ld(p + i)));
  }
}

export function encoderBackward(dwte: usize, dwpe: usize, dout: usize, tokens: usize, B: i32, T: i32, C: i32): void {
  const row: usize = <usize>C << 2;
  for (let bt = 0; bt < B * T; bt++) {
    const d = dout + <usize>bt * row;
    const x = dwte + <usize>load<i32>(tokens + (<usize>bt << 2)) * row;
    const p = dwpe + <usize>(bt % T) * row;
    for (let i: usize = 0; i < row; i += 16) {
      const g = ld(d + i);
      v128.store(x + i, f32x4.add(ld(x + i), g));
      v128.store(p + i, f32x4.add(ld(p + i), g));
    }
  }
}

// ---------------------------------------------------------------- layernorm

/** LayerNorm epsilon: LAYERNORM_EPS in shared/src/train/config.ts (1e-5). */
const EPS: f32 = 1e-5;

export function layernormForward(out: usize, mean: usize, rstd: usize, inp: usize, w: usize, b: usize, N: i32, C: i32): void {
  const row: usize = <usize>C << 2;
  for (let n = 0; n < N; n++) {
    const x = inp + <usize>n * row;
    let s = f32x4.splat(0);
    for (let i: usize = 0; i < row; i += 16) s = f32x4.add(s, ld(x + i));
    const m: f32 = hsum(s) / <f32>C;
    const mv = f32x4.splat(m);
    let q = f32x4.splat(0);
    for (let i: usize = 0; i < row; i += 16) {
      const d = f32x4.sub(ld(x + i), mv);
      q = fma(q, d, d);
    }
    const r: f32 = 1 / Mathf.sqrt(hsum(q) / <f32>C + EPS);
    const rv = f32x4.splat(r);
    const o = out + <usize>n * row;
    for (let i: usize = 0; i < row; i += 16)
      v128.store(o + i, fma(ld(b + i), f32x4.mul(f32x4.sub(ld(x + i), mv), rv), ld(w + i)));
    store<f32>(mean + (<usize>n << 2), m);
    store<f32>(rstd + (<usize>n << 2), r);
  }
}

export function layernormBackward(
  dinp: usize,
  dw: usize,
  db: usize,
  dout: usize,
  inp: usize,
  w: usize,
  mean: usize,
  rstd: usize,
  N: i32,
  C: i32,
): void {
  const row: usize = <usize>C << 2;
  for (let n = 0; n < N; n++) {
    const x = inp + <usize>n * row;
    const d = dout + <usize>n * row;
    const mv = f32x4.splat(load<f32>(mean + (<usize>n << 2)));
    const rv = f32x4.splat(load<f32>(rstd + (<usize>n << 2)));
    let s1 = f32x4.splat(0);
    let s2 = f32x4.splat(0);
    for (let i: usize = 0; i < row; i += 16) {
      const norm = f32x4.mul(f32x4.sub(ld(x + i), mv), rv);
      const dnorm = f32x4.mul(ld(w + i), ld(d + i));
      s1 = f32x4.add(s1, dnorm);
      s2 = fma(s2, dnorm, norm);
    }
    const m1 = f32x4.splat(hsum(s1) / <f32>C);
    const m2 = f32x4.splat(hsum(s2) / <f32>C);
    const di = dinp + <usize>n * row;
    for (let i: usize = 0; i < row; i += 16) {
      const norm = f32x4.mul(f32x4.sub(ld(x + i), mv), rv);
      const g = ld(d + i);
      const dnorm = f32x4.mul(ld(w + i), g);
      v128.store(db + i, f32x4.add(ld(db + i), g));
      v128.store(dw + i, fma(ld(dw + i), norm, g));
      const t = f32x4.mul(f32x4.sub(f32x4.sub(dnorm, m1), f32x4.mul(norm, m2)), rv);
      v128.store(di + i, f32x4.add(ld(di + i), t));
    }
  }
}

// ---------------------------------------------------------------- attention

/** Heads h0..h1 of every sequence (a thread takes a range of heads). */
export function attentionForward(
  out: usize,
  att: usize,
  qkv: usize,
  B: i32,
  T: i32,
  C: i32,
  NH: i32,
  h0: i32,
  h1: i32,
): void {
  const hs = C / NH;
  const hsb: usize = <usize>hs << 2;
  const scale: f32 = 1 / Mathf.sqrt(<f32>hs);
  const row3: usize = (<usize>C * 3) << 2;
  const cb: usize = <usize>C << 2;
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let h = h0; h < h1; h++) {
        const q = qkv + <usize>(b * T + t) * row3 + <usize>h * hsb;
        const a = att + (<usize>((b * NH + h) * T + t) * <usize>T << 2);
        let max: f32 = -Infinity;
        for (let t2 = 0; t2 <= t; t2++) {
          const k = qkv + <usize>(b * T + t2) * row3 + cb + <usize>h * hsb;
          const s = dot(q, k, hsb) * scale;
          store<f32>(a + (<usize>t2 << 2), s);
          if (s > max) max = s;
        }
        let sum: f32 = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const e = Mathf.exp(load<f32>(a + (<usize>t2 << 2)) - max);
          store<f32>(a + (<usize>t2 << 2), e);
          sum += e;
        }
        const inv: f32 = 1 / sum;
        for (let t2 = 0; t2 <= t; t2++) store<f32>(a + (<usize>t2 << 2), load<f32>(a + (<usize>t2 << 2)) * inv);
        for (let t2 = t + 1; t2 < T; t2++) store<f32>(a + (<usize>t2 << 2), 0);
        const o = out + <usize>(b * T + t) * cb + <usize>h * hsb;
        memory.fill(o, 0, hsb);
        for (let t2 = 0; t2 <= t; t2++)
          axpy(o, qkv + <usize>(b * T + t2) * row3 + 2 * cb + <usize>h * hsb, load<f32>(a + (<usize>t2 << 2)), hsb);
      }
}

/** Heads h0..h1; scratch: T floats for datt of one query row, one scratch row per thread. */
export function attentionBackward(
  dqkv: usize,
  dout: usize,
  qkv: usize,
  att: usize,
  B: i32,
  T: i32,
  C: i32,
  NH: i32,
  h0: i32,
  h1: i32,
  scratch: usize,
): void {
  const hs = C / NH;
  const hsb: usize = <usize>hs << 2;
  const scale: f32 = 1 / Mathf.sqrt(<f32>hs);
  const row3: usize = (<usize>C * 3) << 2;
  const cb: usize = <usize>C << 2;
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let h = h0; h < h1; h++) {
        const hoff = <usize>h * hsb;
        const q = <usize>(b * T + t) * row3 + hoff;
        const a = att + (<usize>((b * NH + h) * T + t) * <usize>T << 2);
        const d = dout + <usize>(b * T + t) * cb + hoff;
        let dotsum: f32 = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const v = <usize>(b * T + t2) * row3 + 2 * cb + hoff;
          const w = load<f32>(a + (<usize>t2 << 2));
          const s = dot(d, qkv + v, hsb);
          axpy(dqkv + v, d, w, hsb);
          store<f32>(scratch + (<usize>t2 << 2), s);
          dotsum += w * s;
        }
        for (let t2 = 0; t2 <= t; t2++) {
          const k = <usize>(b * T + t2) * row3 + cb + hoff;
          const dpre: f32 = load<f32>(a + (<usize>t2 << 2)) * (load<f32>(scratch + (<usize>t2 << 2)) - dotsum) * scale;
          axpy(dqkv + q, qkv + k, dpre, hsb);
          axpy(dqkv + k, qkv + q, dpre, hsb);
        }
      }
}

// ---------------------------------------------------------------- pointwise

/** √(2/π) and the cubic coefficient of GPT-2's tanh GELU (layers/gelu.ts). */
const GELU_SCALE: f32 = 0.7978845608028654;
const GELU_CUBE: f32 = 0.044715;

/**
 * e^x for 4 lanes, Cephes' expf: x = n·ln2 + r with |r| ≤ ln2/2, a degree-6 polynomial for e^r, and 2^n
 * put straight into the exponent bits. ~1 ulp on [−87, 88] (clamped there: beyond is 0 or overflow anyway).
 * Mathf.tanh cost ~26 ns a call, which made GELU a tenth of the step.
 */
@inline function expv(x0: v128): v128 {
  const x = f32x4.min(f32x4.max(x0, f32x4.splat(-87.3)), f32x4.splat(88.3));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  const y = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));
  const scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(y, scale);
}

/** tanh(u) = 1 − 2 / (e^{2u} + 1): exact limits ±1, absolute error ~1e-7 near 0 (GELU multiplies it by x/2). */
@inline function tanhv(u: v128): v128 {
  const e = expv(f32x4.add(u, u));
  return f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(e, f32x4.splat(1))));
}

export function geluForward(out: usize, inp: usize, n: i32): void {
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1);
  const k = f32x4.splat(GELU_SCALE);
  const k3 = f32x4.splat(GELU_SCALE * GELU_CUBE);
  const bytes = <usize>n << 2;
  for (let i: usize = 0; i < bytes; i += 16) {
    const x = ld(inp + i);
    const th = tanhv(f32x4.mul(x, f32x4.add(k, f32x4.mul(k3, f32x4.mul(x, x)))));
    v128.store(out + i, f32x4.mul(f32x4.mul(half, x), f32x4.add(one, th)));
  }
}

export function geluBackward(dinp: usize, inp: usize, dout: usize, n: i32): void {
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1);
  const k = f32x4.splat(GELU_SCALE);
  const k3 = f32x4.splat(GELU_SCALE * GELU_CUBE);
  const k33 = f32x4.splat(3 * GELU_SCALE * GELU_CUBE);
  const bytes = <usize>n << 2;
  for (let i: usize = 0; i < bytes; i += 16) {
    const x = ld(inp + i);
    const x2 = f32x4.mul(x, x);
    const th = tanhv(f32x4.mul(x, f32x4.add(k, f32x4.mul(k3, x2))));
    const sech2 = f32x4.sub(one, f32x4.mul(th, th));
    // d/dx: 0.5(1 + th) + 0.5 x sech² (k + 3 k·c x²)
    const g = f32x4.add(
      f32x4.mul(half, f32x4.add(one, th)),
      f32x4.mul(f32x4.mul(f32x4.mul(half, x), sech2), f32x4.add(k, f32x4.mul(k33, x2))),
    );
    v128.store(dinp + i, f32x4.add(ld(dinp + i), f32x4.mul(g, ld(dout + i))));
  }
}

export function residualForward(out: usize, a: usize, b: usize, n: i32): void {
  const bytes = <usize>n << 2;
  for (let i: usize = 0; i < bytes; i += 16) v128.store(out + i, f32x4.add(ld(a + i), ld(b + i)));
}

export function residualBackward(da: usize, db: usize, dout: usize, n: i32): void {
  const bytes = <usize>n << 2;
  for (let i: usize = 0; i < bytes; i += 16) {
    const g = ld(dout + i);
    v128.store(da + i, f32x4.add(ld(da + i), g));
    v128.store(db + i, f32x4.add(ld(db + i), g));
  }
}

// ---------------------------------------------------------------- loss

export function crossentropyForward(losses: usize, probs: usize, logits: usize, targets: usize, N: i32, V: i32): void {
  for (let n = 0; n < N; n++) {
    const l = logits + (<usize>n * <usize>V << 2);
    const p = probs + (<usize>n * <usize>V << 2);
    let max: f32 = -Infinity;
    for (let i = 0; i < V; i++) max = Mathf.max(max, load<f32>(l + (<usize>i << 2)));
    let sum: f32 = 0;
    for (let i = 0; i < V; i++) {
      const e = Mathf.exp(load<f32>(l + (<usize>i << 2)) - max);
      store<f32>(p + (<usize>i << 2), e);
      sum += e;
    }
    const inv: f32 = 1 / sum;
    for (let i = 0; i < V; i++) store<f32>(p + (<usize>i << 2), load<f32>(p + (<usize>i << 2)) * inv);
    const y = load<i32>(targets + (<usize>n << 2));
    store<f32>(losses + (<usize>n << 2), -Mathf.log(load<f32>(p + (<usize>y << 2))));
  }
}

export function crossentropyBackward(dlogits: usize, probs: usize, targets: usize, N: i32, V: i32): void {
  const dloss: f32 = 1 / <f32>N;
  for (let n = 0; n < N; n++) {
    const row = <usize>n * <usize>V << 2;
    const y = load<i32>(targets + (<usize>n << 2));
    for (let i = 0; i < V; i++) {
      const p = load<f32>(probs + row + (<usize>i << 2));
      const g = (p - (i == y ? <f32>1 : <f32>0)) * dloss;
      store<f32>(dlogits + row + (<usize>i << 2), load<f32>(dlogits + row + (<usize>i << 2)) + g);
    }
  }
}

/** dlogits += dlosses[n] · (probs − onehot): the per-row-weighted backward (policy gradients; 0 masks a row). */
export function crossentropyBackwardWeighted(
  dlogits: usize,
  probs: usize,
  targets: usize,
  dlosses: usize,
  N: i32,
  V: i32,
): void {
  for (let n = 0; n < N; n++) {
    const w = load<f32>(dlosses + (<usize>n << 2));
    if (w == 0) continue;
    const row = <usize>n * <usize>V << 2;
    const y = load<i32>(targets + (<usize>n << 2));
    for (let i = 0; i < V; i++) {
      const p = load<f32>(probs + row + (<usize>i << 2));
      const g = (p - (i == y ? <f32>1 : <f32>0)) * w;
      store<f32>(dlogits + row + (<usize>i << 2), load<f32>(dlogits + row + (<usize>i << 2)) + g);
    }
  }
}

// ---------------------------------------------------------------- optimizer

/** Σ x² in f64 (the clip norm should not depend on summation order more than it must). */
export function sumSquares(at: usize, n: i32): f64 {
  let s: f64 = 0;
  for (let i = 0; i < n; i++) {
    const x = <f64>load<f32>(at + (<usize>i << 2));
    s += x * x;
  }
  return s;
}

export function sumOf(at: usize, n: i32): f64 {
  let s: f64 = 0;
  for (let i = 0; i < n; i++) s += <f64>load<f32>(at + (<usize>i << 2));
  return s;
}

/** AdamW (layers/../adamw.ts): c1 = 1 − β1^t and c2 = 1 − β2^t come from the caller. */
export function adamw(
  p: usize,
  g: usize,
  m: usize,
  v: usize,
  n: i32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  wd: f32,
  c1: f32,
  c2: f32,
  gradScale: f32,
): void {
  const b1 = f32x4.splat(beta1);
  const b2 = f32x4.splat(beta2);
  const nb1 = f32x4.splat(1 - beta1);
  const nb2 = f32x4.splat(1 - beta2);
  const gs = f32x4.splat(gradScale);
  const ic1 = f32x4.splat(1 / c1);
  const ic2 = f32x4.splat(1 / c2);
  const ev = f32x4.splat(eps);
  const lrv = f32x4.splat(lr);
  const wdv = f32x4.splat(wd);
  const bytes = <usize>n << 2;
  for (let i: usize = 0; i < bytes; i += 16) {
    const grad = f32x4.mul(ld(g + i), gs);
    const mi = f32x4.add(f32x4.mul(b1, ld(m + i)), f32x4.mul(nb1, grad));
    const vi = f32x4.add(f32x4.mul(b2, ld(v + i)), f32x4.mul(nb2, f32x4.mul(grad, grad)));
    v128.store(m + i, mi);
    v128.store(v + i, vi);
    const pi = ld(p + i);
    const upd = f32x4.add(
      f32x4.div(f32x4.mul(mi, ic1), f32x4.add(f32x4.sqrt(f32x4.mul(vi, ic2)), ev)),
      f32x4.mul(wdv, pi),
    );
    v128.store(p + i, f32x4.sub(pi, f32x4.mul(lrv, upd)));
  }
}

export function zero(at: usize, n: i32): void {
  memory.fill(at, 0, <usize>n << 2);
}

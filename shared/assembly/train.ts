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

// ---------------------------------------------------------------- matmul

/*
 * The gradient products and attention run one packed GEMM, C[M × Nc] (+)= A[M × K] · B[K × Nc], with A and
 * B read through byte strides, so the same loops serve dinp = dout·w, dw = doutᵀ·inp and attention's products
 * (BLIS's five loops): a block of B (KC × NC) is copied into column panels NR wide, a block of A (MC × KC)
 * into row panels MR tall, and a register tile of MR × NR outputs runs over KC with every load sequential.
 * Packing is what the strided forms lacked: rows 1–8 KiB apart (powers of two) fall into the same L1 set,
 * so the weight strips and dout columns the old kernels walked were fetched from L2 on every use (13–24
 * against 40 GFLOP/s for the shapes that fit). Each output accumulates over k in the same order whichever
 * thread or tile computes it, so splitting rows across threads stays bit-identical.
 */

/** Register tile: 4 × 8 outputs in 8 accumulators, 2 panel vectors and a broadcast (V8 has 16 xmm registers). */
const MR = 4;
const NR = 8;
/** Depth of a block: a B panel of KC × NR floats (8 KiB) stays in L1 while the A panels stream past it. */
const KC = 256;
/** Rows of A per block: MC × KC floats (64 KiB) stay in L2. */
const MC = 64;
/** Columns of B per block: KC × NC floats (512 KiB) stay in L2 (1 MiB per core on the machines we target). */
const NC = 512;

/** Scratch bytes a thread needs for its packed blocks of B and A and one spilled tile (the backend lays them out). */
export const PACK_BYTES: usize = (KC * NC + MC * KC + MR * NR) << 2;

/**
 * C[m, j] = init + Σ_k A[m, k] · B[k, j], where init is bias[j] (or 0 when bias is 0) if !accumulate, else
 * C's own value; A[m, k] at a + m·ars + k·acs and B[k, j] at b + k·brs + j·bcs (byte strides), C's rows ldc
 * bytes apart. Beyond the first KC block of k, C accumulates what the earlier blocks left.
 */
function gemm(
  c: usize,
  ldc: usize,
  a: usize,
  ars: usize,
  acs: usize,
  b: usize,
  brs: usize,
  bcs: usize,
  M: i32,
  Nc: i32,
  K: i32,
  bias: usize,
  accumulate: bool,
  pack: usize,
): void {
  const bp = pack;
  const ap = pack + (<usize>(KC * NC) << 2);
  const spill = ap + (<usize>(MC * KC) << 2);
  for (let jc = 0; jc < Nc; jc += NC) {
    const nc = min(NC, Nc - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      packB(bp, b + <usize>pc * brs + <usize>jc * bcs, brs, bcs, kc, nc);
      // 0: add to C; 1: C = bias + product; 2: C = product.
      const init = accumulate || pc > 0 ? 0 : bias != 0 ? 1 : 2;
      for (let ic = 0; ic < M; ic += MC) {
        const mc = min(MC, M - ic);
        packA(ap, a + <usize>ic * ars + <usize>pc * acs, ars, acs, mc, kc);
        for (let jr = 0; jr < nc; jr += NR) {
          const panelB = bp + (<usize>jr * <usize>kc << 2);
          const bj = bias + (<usize>(jc + jr) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const ct = c + <usize>(ic + ir) * ldc + (<usize>(jc + jr) << 2);
            const panelA = ap + (<usize>ir * <usize>kc << 2);
            tile(ct, ldc, panelA, panelB, kc, min(MR, mc - ir), min(NR, nc - jr), init, bj, spill);
          }
        }
      }
    }
  }
}

/** B[k, j] for k < kc, j < nc into panels of NR columns, [panel][k][NR], the columns past nc zero. */
function packB(dst: usize, b: usize, brs: usize, bcs: usize, kc: i32, nc: i32): void {
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const panel = dst + (<usize>j0 * <usize>kc << 2);
    const src = b + <usize>j0 * bcs;
    if (j0 + NR <= nc && bcs == 4) {
      // Rows of B run along j (dinp = dout·w, dw = doutᵀ·inp): two vectors a row.
      for (let k = 0; k < kc; k++) {
        const s = src + <usize>k * brs;
        const d = panel + (<usize>k << 5);
        v128.store(d, ld(s));
        v128.store(d + 16, ld(s + 16));
      }
    } else if (j0 + NR <= nc && brs == 4 && (kc & 3) == 0) {
      // Columns of B run along k (out = inp·wᵀ: B = wᵀ): 4 × 4 transposes of two row quartets.
      for (let k = 0; k < kc; k += 4) {
        const d = panel + (<usize>k << 5);
        const s = src + (<usize>k << 2);
        transposeStore(d, 32, ld(s), ld(s + bcs), ld(s + 2 * bcs), ld(s + 3 * bcs));
        const s4 = s + 4 * bcs;
        transposeStore(d + 16, 32, ld(s4), ld(s4 + bcs), ld(s4 + 2 * bcs), ld(s4 + 3 * bcs));
      }
    } else {
      for (let k = 0; k < kc; k++)
        for (let j = 0; j < NR; j++)
          store<f32>(
            panel + ((<usize>(k * NR + j)) << 2),
            j0 + j < nc ? load<f32>(src + <usize>k * brs + <usize>j * bcs) : 0,
          );
    }
  }
}

/** A[m, k] for m < mc, k < kc into panels of MR rows, [panel][k][MR], the rows past mc zero. */
function packA(dst: usize, a: usize, ars: usize, acs: usize, mc: i32, kc: i32): void {
  for (let m0 = 0; m0 < mc; m0 += MR) {
    const panel = dst + (<usize>m0 * <usize>kc << 2);
    const src = a + <usize>m0 * ars;
    if (m0 + MR <= mc && acs == 4 && (kc & 3) == 0) {
      // Rows of A run along k (out = inp·wᵀ, dinp = dout·w): 4 × 4 transposes.
      for (let k = 0; k < kc; k += 4) {
        const s = src + (<usize>k << 2);
        transposeStore(panel + (<usize>k << 4), 16, ld(s), ld(s + ars), ld(s + 2 * ars), ld(s + 3 * ars));
      }
    } else if (m0 + MR <= mc && ars == 4) {
      // Columns of A run along m (dw = doutᵀ·inp: A = doutᵀ): one vector a step.
      for (let k = 0; k < kc; k++) v128.store(panel + (<usize>k << 4), ld(src + <usize>k * acs));
    } else {
      for (let k = 0; k < kc; k++)
        for (let m = 0; m < MR; m++)
          store<f32>(
            panel + ((<usize>(k * MR + m)) << 2),
            m0 + m < mc ? load<f32>(src + <usize>m * ars + <usize>k * acs) : 0,
          );
    }
  }
}

/** Stores the transpose of rows r0..r3 as four vectors `step` bytes apart: out q = [r0[q], r1[q], r2[q], r3[q]]. */
@inline function transposeStore(d: usize, step: usize, r0: v128, r1: v128, r2: v128, r3: v128): void {
  const lo01 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const lo23 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const hi01 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const hi23 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(d, v128.shuffle<f32>(lo01, lo23, 0, 1, 4, 5));
  v128.store(d + step, v128.shuffle<f32>(lo01, lo23, 2, 3, 6, 7));
  v128.store(d + 2 * step, v128.shuffle<f32>(hi01, hi23, 0, 1, 4, 5));
  v128.store(d + 3 * step, v128.shuffle<f32>(hi01, hi23, 2, 3, 6, 7));
}

/**
 * One register tile: rows × cols (≤ MR × NR) outputs at c over kc steps of the panels. init as in gemm
 * (bias at bj). A partial tile goes through `spill` so that its stores stay within C.
 */
function tile(
  c: usize,
  ldc: usize,
  pa: usize,
  pb: usize,
  kc: i32,
  rows: i32,
  cols: i32,
  init: i32,
  bj: usize,
  spill: usize,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const end = pb + (<usize>kc << 5);
  for (; pb < end; pb += 32, pa += 16) {
    const b0 = ld(pb);
    const b1 = ld(pb + 16);
    let s = v128.load32_splat(pa);
    c00 = fma(c00, s, b0);
    c01 = fma(c01, s, b1);
    s = v128.load32_splat(pa + 4);
    c10 = fma(c10, s, b0);
    c11 = fma(c11, s, b1);
    s = v128.load32_splat(pa + 8);
    c20 = fma(c20, s, b0);
    c21 = fma(c21, s, b1);
    s = v128.load32_splat(pa + 12);
    c30 = fma(c30, s, b0);
    c31 = fma(c31, s, b1);
  }
  if (rows == MR && cols == NR) {
    addRow(c, c00, c01, init, bj);
    addRow(c + ldc, c10, c11, init, bj);
    addRow(c + 2 * ldc, c20, c21, init, bj);
    addRow(c + 3 * ldc, c30, c31, init, bj);
    return;
  }
  v128.store(spill, c00);
  v128.store(spill + 16, c01);
  v128.store(spill + 32, c10);
  v128.store(spill + 48, c11);
  v128.store(spill + 64, c20);
  v128.store(spill + 80, c21);
  v128.store(spill + 96, c30);
  v128.store(spill + 112, c31);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < cols; j++) {
      const p = c + <usize>r * ldc + (<usize>j << 2);
      const base: f32 = init == 0 ? load<f32>(p) : init == 1 ? load<f32>(bj + (<usize>j << 2)) : 0;
      store<f32>(p, base + load<f32>(spill + ((<usize>(r * NR + j)) << 2)));
    }
}

@inline function addRow(p: usize, x0: v128, x1: v128, init: i32, bj: usize): void {
  if (init == 0) {
    v128.store(p, f32x4.add(ld(p), x0));
    v128.store(p + 16, f32x4.add(ld(p + 16), x1));
  } else if (init == 1) {
    v128.store(p, f32x4.add(ld(bj), x0));
    v128.store(p + 16, f32x4.add(ld(bj + 16), x1));
  } else {
    v128.store(p, x0);
    v128.store(p + 16, x1);
  }
}

/** Rows of w per cache tile in the forward: keeps the tile within ~64 KiB (L2 on any core we target). */
const TILE_BYTES: usize = 65536;

/**
 * out[n, o] = bias[o] + Σ_i inp[n, i] · w[o, i]; w is (Cout, Cin). Blocks of 2 input rows × 4 weight rows:
 * 8 accumulators + 4 weight vectors + 1 input vector fit V8's 16 xmm registers (4×4 blocks spilled: 21
 * against 46 GFLOP/s at 512×256×1024 on one core here), and w is walked in tiles of TILE_BYTES so a tile stays in cache across rows.
 * Its six streams run along rows, so it needs no packing: it beat the packed GEMM below by ~8% (43.6 against
 * 40 GFLOP/s over a small-preset step's forward matmuls, one thread).
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

/** dinp += dout · w, then dw += doutᵀ · inp and dbias += Σ_n dout (one thread's whole backward). */
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
  pack: usize,
): void {
  matmulBackwardInput(dinp, dout, w, N, Cin, Cout, pack);
  matmulBackwardWeight(dw, dbias, dout, inp, N, Cin, Cout, Cout, pack);
}

/** dinp[n, :] += dout[n, :] · w for N rows (a thread takes a range of rows). */
export function matmulBackwardInput(dinp: usize, dout: usize, w: usize, N: i32, Cin: i32, Cout: i32, pack: usize): void {
  const row: usize = <usize>Cin << 2;
  gemm(dinp, row, dout, <usize>Cout << 2, 4, w, row, 4, N, Cin, Cout, 0, true, pack);
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
  pack: usize,
): void {
  const row: usize = <usize>Cin << 2;
  const orow: usize = <usize>doutStride << 2;
  gemm(dw, row, dout, 4, orow, inp, row, 4, Cout, Cin, N, 0, true, pack);
  if (dbias == 0) return;
  // dbias = Σ_n dout, four outputs a vector, each summed over n in order.
  let o = 0;
  for (; o + 4 <= Cout; o += 4) {
    let s = f32x4.splat(0);
    for (let n = 0; n < N; n++) s = f32x4.add(s, ld(dout + <usize>n * orow + (<usize>o << 2)));
    const p = dbias + (<usize>o << 2);
    v128.store(p, f32x4.add(ld(p), s));
  }
  for (; o < Cout; o++) {
    let s: f32 = 0;
    for (let n = 0; n < N; n++) s += load<f32>(dout + <usize>n * orow + (<usize>o << 2));
    const p = dbias + (<usize>o << 2);
    store<f32>(p, load<f32>(p) + s);
  }
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

/*
 * Attention as GEMMs over blocks of query rows (scores = q·kᵀ, out = P·v, and in the backward dP = dout·vᵀ,
 * dv += Pᵀ·dout, dq += dS·k, dk += dSᵀ·q), each block reaching only the keys up to its last row, so the
 * causal half is skipped but for the diagonal blocks. The per-row dot products and axpys this replaces ran
 * at 4-6 GFLOP/s. The softmax and its backward walk rows with vector exp.
 */

/** Query rows per block: 32 keeps the diagonal blocks' wasted half small (a quarter of the work at T = 128). */
const ATT_ROWS = 32;
/** A thread's scratch for one block of dS (rows × T floats), after its packing scratch. */
const ATT_BYTES: usize = 262144;

/** Scratch bytes a thread needs: the matmuls' packed blocks, then attention's dS block. */
export const SCRATCH_BYTES: usize = PACK_BYTES + ATT_BYTES;

/** Rows per block at context T: ATT_ROWS, fewer (a multiple of 4, at least 4) where a block of dS would outgrow ATT_BYTES. */
function attRows(T: i32): i32 {
  return max(4, min(ATT_ROWS, <i32>(ATT_BYTES / (<usize>T << 4)) << 2));
}

/** Heads h0..h1 of every sequence (a thread takes a range of heads); `scratch`: this thread's SCRATCH_BYTES. */
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
  scratch: usize,
): void {
  const hs = C / NH;
  const scale: f32 = 1 / Mathf.sqrt(<f32>hs);
  const row3: usize = (<usize>C * 3) << 2;
  const cb: usize = <usize>C << 2;
  const trow: usize = <usize>T << 2;
  const R = attRows(T);
  for (let b = 0; b < B; b++)
    for (let h = h0; h < h1; h++) {
      const q = qkv + <usize>(b * T) * row3 + (<usize>(h * hs) << 2);
      const k = q + cb;
      const v = q + 2 * cb;
      const a = att + <usize>((b * NH + h) * T) * trow;
      const o = out + <usize>(b * T) * cb + (<usize>(h * hs) << 2);
      for (let t0 = 0; t0 < T; t0 += R) {
        const t1 = min(T, t0 + R);
        const rows = t1 - t0;
        const at = a + <usize>t0 * trow;
        gemm(at, trow, q + <usize>t0 * row3, row3, 4, k, 4, row3, rows, t1, hs, 0, false, scratch);
        for (let t = t0; t < t1; t++) softmaxRow(a + <usize>t * trow, t + 1, T, scale);
        gemm(o + <usize>t0 * cb, cb, at, trow, 4, v, row3, 4, rows, hs, t1, 0, false, scratch);
      }
    }
}

/** p[i] = softmax(scale · p[0..n))[i] for i < n, and 0 for n ≤ i < T. */
function softmaxRow(p: usize, n: i32, T: i32, scale: f32): void {
  const bytes = <usize>n << 2;
  const sv = f32x4.splat(scale);
  let i: usize = 0;
  let mv = f32x4.splat(-Infinity);
  for (; i + 16 <= bytes; i += 16) mv = f32x4.pmax(mv, f32x4.mul(ld(p + i), sv));
  let max = Mathf.max(Mathf.max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), Mathf.max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
  for (let j = i; j < bytes; j += 4) max = Mathf.max(max, load<f32>(p + j) * scale);
  const maxv = f32x4.splat(max);
  let sumv = f32x4.splat(0);
  for (i = 0; i + 16 <= bytes; i += 16) {
    const e = expv(f32x4.sub(f32x4.mul(ld(p + i), sv), maxv));
    v128.store(p + i, e);
    sumv = f32x4.add(sumv, e);
  }
  let sum = hsum(sumv);
  for (let j = i; j < bytes; j += 4) {
    const e = expf(load<f32>(p + j) * scale - max);
    store<f32>(p + j, e);
    sum += e;
  }
  const inv = f32x4.splat(1 / sum);
  for (i = 0; i + 16 <= bytes; i += 16) v128.store(p + i, f32x4.mul(ld(p + i), inv));
  for (let j = i; j < bytes; j += 4) store<f32>(p + j, load<f32>(p + j) * f32x4.extract_lane(inv, 0));
  memory.fill(p + bytes, 0, (<usize>T << 2) - bytes);
}

/** Heads h0..h1; `scratch`: this thread's SCRATCH_BYTES (dS of one block of query rows lives past the packing). */
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
  const scale: f32 = 1 / Mathf.sqrt(<f32>hs);
  const row3: usize = (<usize>C * 3) << 2;
  const cb: usize = <usize>C << 2;
  const trow: usize = <usize>T << 2;
  const R = attRows(T);
  const ds = scratch + PACK_BYTES;
  for (let b = 0; b < B; b++)
    for (let h = h0; h < h1; h++) {
      const hoff = <usize>(b * T) * row3 + (<usize>(h * hs) << 2);
      const q = qkv + hoff;
      const k = q + cb;
      const v = q + 2 * cb;
      const dq = dqkv + hoff;
      const dk = dq + cb;
      const dv = dq + 2 * cb;
      const a = att + <usize>((b * NH + h) * T) * trow;
      const d = dout + <usize>(b * T) * cb + (<usize>(h * hs) << 2);
      for (let t0 = 0; t0 < T; t0 += R) {
        const t1 = min(T, t0 + R);
        const rows = t1 - t0;
        const at = a + <usize>t0 * trow;
        const dt = d + <usize>t0 * cb;
        // dP = dout · vᵀ (rows × t1), then dS = P ⊙ (dP − Σ P·dP) · scale in place.
        gemm(ds, trow, dt, cb, 4, v, 4, row3, rows, t1, hs, 0, false, scratch);
        for (let r = 0; r < rows; r++) softmaxBackwardRow(ds + <usize>r * trow, at + <usize>r * trow, t0 + r + 1, t1, scale);
        // dv[0..t1) += Pᵀ · dout, dq[rows] += dS · k, dk[0..t1) += dSᵀ · q
        gemm(dv, row3, at, 4, trow, dt, cb, 4, t1, hs, rows, 0, true, scratch);
        gemm(dq + <usize>t0 * row3, row3, ds, trow, 4, k, row3, 4, rows, hs, t1, 0, true, scratch);
        gemm(dk, row3, ds, 4, trow, q + <usize>t0 * row3, row3, 4, t1, hs, rows, 0, true, scratch);
      }
    }
}

/** dp[i] = p[i] · (dp[i] − Σ_{j<n} p[j]·dp[j]) · scale for i < n, and 0 for n ≤ i < width. */
function softmaxBackwardRow(dp: usize, p: usize, n: i32, width: i32, scale: f32): void {
  const bytes = <usize>n << 2;
  let i: usize = 0;
  let sv = f32x4.splat(0);
  for (; i + 16 <= bytes; i += 16) sv = fma(sv, ld(p + i), ld(dp + i));
  let s = hsum(sv);
  for (let j = i; j < bytes; j += 4) s += load<f32>(p + j) * load<f32>(dp + j);
  const dot = f32x4.splat(s);
  const sc = f32x4.splat(scale);
  for (i = 0; i + 16 <= bytes; i += 16)
    v128.store(dp + i, f32x4.mul(f32x4.mul(ld(p + i), f32x4.sub(ld(dp + i), dot)), sc));
  for (let j = i; j < bytes; j += 4) store<f32>(dp + j, load<f32>(p + j) * (load<f32>(dp + j) - s) * scale);
  memory.fill(dp + bytes, 0, (<usize>width << 2) - bytes);
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
  // pmin/pmax are one instruction each; min/max's NaN and ±0 rules cost V8 about seven (a NaN still passes).
  const x = f32x4.pmin(f32x4.pmax(x0, f32x4.splat(-87.3)), f32x4.splat(88.3));
  // n = round-to-nearest-even(x·log2 e) by adding 1.5·2^23, which also leaves n in the low bits of t:
  // the same n as f32x4.nearest, without the rounding instruction and V8's long trunc_sat sequence.
  const t = f32x4.add(f32x4.mul(x, f32x4.splat(1.44269504088896341)), f32x4.splat(MAGIC));
  const n = f32x4.sub(t, f32x4.splat(MAGIC));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  const y = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));
  const scale = i32x4.shl(i32x4.add(t, i32x4.splat(127 - MAGIC_BITS)), 23);
  return f32x4.mul(y, scale);
}

/** 1.5·2^23: added to |v| < 2^22, it rounds v to an integer n and its bits are MAGIC_BITS + n. */
const MAGIC: f32 = 12582912;
const MAGIC_BITS: i32 = 0x4b400000;

/** tanh(u) = 1 − 2 / (e^{2u} + 1): exact limits ±1, absolute error ~1e-7 near 0 (GELU multiplies it by x/2). */
@inline function tanhv(u: v128): v128 {
  const e = expv(f32x4.add(u, u));
  return f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(e, f32x4.splat(1))));
}

/** e^x for one value, by the same polynomial as expv (a row mixing both stays consistent). */
@inline function expf(x: f32): f32 {
  return f32x4.extract_lane(expv(f32x4.splat(x)), 0);
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

/** Rows 0..N of the loss (a thread takes a range of rows): softmax four lanes at a time, then −log p[target]. */
export function crossentropyForward(losses: usize, probs: usize, logits: usize, targets: usize, N: i32, V: i32): void {
  const vb = <usize>V << 2;
  const vec = vb & ~15;
  for (let n = 0; n < N; n++) {
    const l = logits + <usize>n * vb;
    const p = probs + <usize>n * vb;
    let mv = f32x4.splat(-Infinity);
    for (let i: usize = 0; i < vec; i += 16) mv = f32x4.pmax(mv, ld(l + i));
    let max = Mathf.max(Mathf.max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), Mathf.max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    for (let i = vec; i < vb; i += 4) max = Mathf.max(max, load<f32>(l + i));
    const maxv = f32x4.splat(max);
    let sv = f32x4.splat(0);
    for (let i: usize = 0; i < vec; i += 16) {
      const e = expv(f32x4.sub(ld(l + i), maxv));
      v128.store(p + i, e);
      sv = f32x4.add(sv, e);
    }
    let sum = hsum(sv);
    for (let i = vec; i < vb; i += 4) {
      const e = expf(load<f32>(l + i) - max);
      store<f32>(p + i, e);
      sum += e;
    }
    const inv: f32 = 1 / sum;
    const iv = f32x4.splat(inv);
    for (let i: usize = 0; i < vec; i += 16) v128.store(p + i, f32x4.mul(ld(p + i), iv));
    for (let i = vec; i < vb; i += 4) store<f32>(p + i, load<f32>(p + i) * inv);
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

/**
 * Σ x² in f64 over each chunk of `chunk` values (the last may be short), into consecutive f64s at dst: the
 * caller adds the partial sums in order, so the clip norm is the same however the chunks were shared out
 * among threads (and f64 keeps it from depending on that order more than it must).
 */
export function sumSquaresChunks(dst: usize, at: usize, n: i32, chunk: i32): void {
  for (let c0 = 0; c0 < n; c0 += chunk) {
    const c1 = min(n, c0 + chunk);
    let s: f64 = 0;
    for (let i = c0; i < c1; i++) {
      const x = <f64>load<f32>(at + (<usize>i << 2));
      s += x * x;
    }
    store<f64>(dst + (<usize>(c0 / chunk) << 3), s);
  }
}

export function sumOf(at: usize, n: i32): f64 {
  let s: f64 = 0;
  for (let i = 0; i < n; i++) s += <f64>load<f32>(at + (<usize>i << 2));
  return s;
}

/**
 * AdamW (layers/../adamw.ts) over n values; `hp` holds f32s lr, β1, β2, eps, weight decay, c1 = 1 − β1^t,
 * c2 = 1 − β2^t and the clip's gradient scale (in memory, so worker threads get them through i32 arguments).
 */
export function adamw(p: usize, g: usize, m: usize, v: usize, n: i32, hp: usize): void {
  const lrv = v128.load32_splat(hp);
  const beta1 = load<f32>(hp, 4);
  const beta2 = load<f32>(hp, 8);
  const b1 = f32x4.splat(beta1);
  const b2 = f32x4.splat(beta2);
  const nb1 = f32x4.splat(1 - beta1);
  const nb2 = f32x4.splat(1 - beta2);
  const ev = v128.load32_splat(hp, 12);
  const wdv = v128.load32_splat(hp, 16);
  const ic1 = f32x4.splat(1 / load<f32>(hp, 20));
  const ic2 = f32x4.splat(1 / load<f32>(hp, 24));
  const gs = v128.load32_splat(hp, 28);
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

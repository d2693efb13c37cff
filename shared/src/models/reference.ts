/**
 * Plain-TypeScript versions of the ops the built-in models use. They
 * accumulate in float64 and round once to float32, so they are at least as
 * accurate as any backend; comparisons allow for the backends' float32 sums.
 */

/** C[m×n] = A[m×k] · B[k×n]. */
export function matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float32Array {
  const out = new Float32Array(m * n);
  const row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    row.fill(0);
    for (let p = 0; p < k; p++) {
      const x = a[i * k + p]!;
      if (x === 0) continue;
      const bOffset = p * n;
      for (let j = 0; j < n; j++) row[j]! += x * b[bOffset + j]!;
    }
    out.set(row, i * n);
  }
  return out;
}

/** In place: x[i, j] += bias[j]. */
export function addBias(x: Float32Array, bias: Float32Array): Float32Array {
  for (let i = 0; i < x.length; i++) x[i]! += bias[i % bias.length]!;
  return x;
}

export function relu(x: Float32Array): Float32Array {
  for (let i = 0; i < x.length; i++) if (!(x[i]! > 0)) x[i] = 0;
  return x;
}

/** In place, over the last axis of width `n`. */
export function softmax(x: Float32Array, n: number): Float32Array {
  for (let start = 0; start < x.length; start += n) {
    let max = -Infinity;
    for (let j = 0; j < n; j++) max = Math.max(max, x[start + j]!);
    let sum = 0;
    const exps = new Float64Array(n);
    for (let j = 0; j < n; j++) sum += exps[j] = Math.exp(x[start + j]! - max);
    for (let j = 0; j < n; j++) x[start + j] = exps[j]! / sum;
  }
  return x;
}

export interface Conv2dShape {
  batch: number;
  inChannels: number;
  outChannels: number;
  height: number;
  width: number;
  kernel: number;
  /** Zero padding on every side ("same" output for an odd kernel when kernel = 2·pad+1). */
  pad: number;
}

/** NCHW convolution with stride 1, weights [outC, inC, k, k], plus bias [outC]. */
export function conv2d(x: Float32Array, w: Float32Array, bias: Float32Array, s: Conv2dShape): Float32Array {
  const outH = s.height + 2 * s.pad - s.kernel + 1;
  const outW = s.width + 2 * s.pad - s.kernel + 1;
  const out = new Float32Array(s.batch * s.outChannels * outH * outW);
  let o = 0;
  for (let b = 0; b < s.batch; b++) {
    for (let oc = 0; oc < s.outChannels; oc++) {
      for (let y = 0; y < outH; y++) {
        for (let xPos = 0; xPos < outW; xPos++) {
          let acc = bias[oc]!;
          for (let ic = 0; ic < s.inChannels; ic++) {
            for (let ky = 0; ky < s.kernel; ky++) {
              const iy = y + ky - s.pad;
              if (iy < 0 || iy >= s.height) continue;
              for (let kx = 0; kx < s.kernel; kx++) {
                const ix = xPos + kx - s.pad;
                if (ix < 0 || ix >= s.width) continue;
                acc +=
                  x[((b * s.inChannels + ic) * s.height + iy) * s.width + ix]! *
                  w[((oc * s.inChannels + ic) * s.kernel + ky) * s.kernel + kx]!;
              }
            }
          }
          out[o++] = acc;
        }
      }
    }
  }
  return out;
}

/** Helpers shared by the training tests (not shipped code paths). */
import { mulberry32 } from '../random';

export function randomVec(n: number, seed: number, scale = 1): Float64Array {
  const u = mulberry32(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (u() * 2 - 1) * scale;
  return out;
}

/**
 * Central finite differences of L = Σ out · r with respect to every element
 * of every input, against the analytic gradients the backward returns.
 * Returns the largest |fd − analytic| / max(1, |fd|, |analytic|) seen.
 */
export function fdMaxError(
  inputs: Float64Array[],
  run: () => Float64Array,
  backward: (dout: Float64Array) => Float64Array[],
  seed = 7,
  h = 1e-5,
): number {
  const out0 = run();
  const r = randomVec(out0.length, seed);
  const analytic = backward(r);
  const loss = () => {
    const o = run();
    let s = 0;
    for (let i = 0; i < o.length; i++) s += o[i]! * r[i]!;
    return s;
  };
  let worst = 0;
  inputs.forEach((x, k) => {
    for (let i = 0; i < x.length; i++) {
      const keep = x[i]!;
      x[i] = keep + h;
      const up = loss();
      x[i] = keep - h;
      const down = loss();
      x[i] = keep;
      const fd = (up - down) / (2 * h);
      const an = analytic[k]![i]!;
      worst = Math.max(worst, Math.abs(fd - an) / Math.max(1, Math.abs(fd), Math.abs(an)));
    }
  });
  return worst;
}

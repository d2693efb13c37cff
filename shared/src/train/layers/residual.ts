/** Residual connection: out = a + b; the gradient flows to both unchanged. */
import type { Vec } from './types';

export function residualForward(out: Vec, a: Vec, b: Vec, n: number) {
  for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!;
}

/** Accumulates into da and db. */
export function residualBackward(da: Vec, db: Vec, dout: Vec, n: number) {
  for (let i = 0; i < n; i++) {
    da[i] = da[i]! + dout[i]!;
    db[i] = db[i]! + dout[i]!;
  }
}

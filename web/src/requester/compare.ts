/**
 * Do two sets of output tensors agree? Used to spot-check a provider against
 * the requester's own run and to compare replicas when redundancy > 1.
 */
import { tensorFromRaw, type RawTensor } from '../../../shared/src/protocol/peer';
import { SPOT_CHECK_ATOL, SPOT_CHECK_RTOL } from '../core/constants';

export type Agreement = { agree: true } | { agree: false; reason: string };

function view(t: RawTensor): ArrayLike<number | bigint> {
  return tensorFromRaw(t).data;
}

export function compareOutputs(a: readonly RawTensor[], b: readonly RawTensor[], rtol = SPOT_CHECK_RTOL, atol = SPOT_CHECK_ATOL): Agreement {
  if (a.length !== b.length) return { agree: false, reason: `${a.length} outputs vs ${b.length}` };
  for (let t = 0; t < a.length; t++) {
    const x = a[t]!;
    const y = b[t]!;
    if (x.name !== y.name || x.dtype !== y.dtype || x.dims.join(',') !== y.dims.join(',')) {
      return { agree: false, reason: `output ${x.name} [${x.dims}] ${x.dtype} vs ${y.name} [${y.dims}] ${y.dtype}` };
    }
    const xs = view(x);
    const ys = view(y);
    for (let i = 0; i < xs.length; i++) {
      const p = xs[i]!;
      const q = ys[i]!;
      if (typeof p === 'bigint' || typeof q === 'bigint' || (x.dtype !== 'float32' && x.dtype !== 'float64')) {
        if (p !== q) return { agree: false, reason: `output ${x.name}[${i}]: ${p} vs ${q}` };
        continue;
      }
      if (p === q) continue;
      const bothNaN = Number.isNaN(p) && Number.isNaN(q);
      if (!bothNaN && !(Math.abs(p - q) <= atol + rtol * Math.abs(q))) {
        return { agree: false, reason: `output ${x.name}[${i}]: ${p} vs ${q}` };
      }
    }
  }
  return { agree: true };
}

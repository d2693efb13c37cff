/**
 * Do two sets of output tensors agree? Used to spot-check a provider against
 * the requester's own run and to compare replicas when redundancy > 1.
 */
import { tensorFromRaw, type RawTensor } from '../../../shared/src/protocol/peer';
import { compareTensors } from '../../../shared/src/tensor';
import { SPOT_CHECK_ATOL, SPOT_CHECK_RTOL } from '../core/constants';

export type Agreement = { agree: true } | { agree: false; reason: string };

export function compareOutputs(a: readonly RawTensor[], b: readonly RawTensor[], rtol = SPOT_CHECK_RTOL, atol = SPOT_CHECK_ATOL): Agreement {
  if (a.length !== b.length) return { agree: false, reason: `${a.length} outputs vs ${b.length}` };
  for (let t = 0; t < a.length; t++) {
    const x = a[t]!;
    const y = b[t]!;
    if (x.name !== y.name) return { agree: false, reason: `output ${x.name} vs ${y.name}` };
    const result = compareTensors(tensorFromRaw(x), tensorFromRaw(y), atol, rtol);
    if (!result.ok) return { agree: false, reason: `output ${x.name}: ${result.message}` };
  }
  return { agree: true };
}

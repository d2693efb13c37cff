/**
 * Do two sets of output tensors agree? Used to spot-check a provider against
 * the requester's own run and to compare replicas when redundancy > 1, with the
 * trust core's tolerance rule: results from the same backend must agree
 * tightly, results across backends (WebGPU vs WASM, GPU vendors) within the
 * documented cross-class bound (shared/src/trust/constants.ts).
 */
import type { RawTensor } from '../../../shared/src/protocol/peer';
import { compareOutputs as compareResults, DEFAULT_TOLERANCES, describeDisagreement } from '../../../shared/src/trust';
import { asUnitOutputs } from '../core/trust';

export type Agreement = { agree: true } | { agree: false; reason: string };

export function compareOutputs(a: readonly RawTensor[], b: readonly RawTensor[], sameBackend: boolean): Agreement {
  const tolerance = sameBackend ? DEFAULT_TOLERANCES.sameClass : DEFAULT_TOLERANCES.crossClass;
  const result = compareResults(asUnitOutputs(a), asUnitOutputs(b), tolerance);
  return result.agree ? { agree: true } : { agree: false, reason: describeDisagreement(result.reason) };
}

/**
 * Do two sets of output tensors agree? Used to spot-check a provider against
 * the requester's own run and to compare replicas when redundancy > 1, with the
 * trust core's tolerance rule: results from the same backend must agree
 * tightly, results across backends (WebGPU vs WASM, GPU vendors) within the
 * cross-class bound: the job's own, or the documented default
 * (shared/src/trust/constants.ts).
 */
import type { RawTensor } from '@shared/protocol';
import { compareOutputs as compareResults, describeDisagreement, type ToleranceTable } from '@shared/trust';
import { asUnitOutputs } from '@shared/jobs';

export type Agreement = { agree: true } | { agree: false; reason: string };

/** `table`: the job's tolerances (jobVerification); `sameBackend` picks its same-class or cross-class row. */
export function compareOutputs(
  a: readonly RawTensor[],
  b: readonly RawTensor[],
  sameBackend: boolean,
  table: ToleranceTable,
): Agreement {
  const tolerance = sameBackend ? table.sameClass : table.crossClass;
  const result = compareResults(asUnitOutputs(a), asUnitOutputs(b), tolerance);
  return result.agree ? { agree: true } : { agree: false, reason: describeDisagreement(result.reason) };
}

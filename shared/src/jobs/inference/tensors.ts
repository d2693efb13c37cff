/**
 * Glue between the peer wire (RawTensor) and the trust core (ResultTensor):
 * both sides hash a unit's inputs and outputs the same way before signing or
 * verifying, and compare outputs with the trust core's tolerance rule.
 */
import { tensorFromRaw, type RawTensor } from '../../protocol/peer';
import { hashOutputs, type UnitOutputs } from '../../trust';

export function asUnitOutputs(tensors: readonly RawTensor[]): UnitOutputs {
  // Tensor and ResultTensor are the same shape over the same dtypes.
  return tensors.map((t) => tensorFromRaw(t)) as unknown as UnitOutputs;
}

/** SHA-256 hex of tensors in the trust core's canonical encoding (the signed input/result hash). */
export function hashTensors(tensors: readonly RawTensor[]): Promise<string> {
  return hashOutputs(asUnitOutputs(tensors));
}

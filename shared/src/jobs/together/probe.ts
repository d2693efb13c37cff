/** The Gauntlet's loss probe over any engine backend (WASM in Node and in the requester's worker). */
import { type Backend, type Batch, evalLoss } from '../../train';
import type { LossProbe } from './gauntlet';

export class BackendLossProbe implements LossProbe {
  /** Forward passes run so far (what scoring cost). */
  forwards = 0;

  constructor(readonly backend: Backend) {}

  async losses(params: Float32Array, batches: readonly Batch[]): Promise<number[]> {
    const b = this.backend;
    if (params.length !== b.arena.params.size) throw new Error('the probe is sized for another model');
    b.writeFloats(b.arena.paramsAt, params);
    this.forwards += batches.length;
    return batches.map((batch) => evalLoss(b, batch));
  }
}

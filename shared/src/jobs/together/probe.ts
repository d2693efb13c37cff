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

/**
 * A loss probe that remembers each loss by the weights array and the batch it was computed on (both by
 * identity), and counts the forwards it ran. A round never writes weights it has probed — versions are
 * immutable and a test's applied copy is made fresh — so the base's loss on a batch that several loss tests
 * draw, or that TogetherRounds.prepare computed ahead of the reveals, runs once.
 */
export class MemoProbe implements LossProbe {
  forwards = 0;
  private readonly memo = new WeakMap<Float32Array, Map<Batch, number>>();

  constructor(readonly inner: LossProbe) {}

  async losses(params: Float32Array, batches: readonly Batch[]): Promise<number[]> {
    let known = this.memo.get(params);
    if (!known) this.memo.set(params, (known = new Map()));
    const missing = [...new Set(batches.filter((b) => !known.has(b)))];
    if (missing.length > 0) {
      const losses = await this.inner.losses(params, missing);
      missing.forEach((b, i) => known.set(b, losses[i]!));
      this.forwards += missing.length;
    }
    return batches.map((b) => known.get(b)!);
  }
}

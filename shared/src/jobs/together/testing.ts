/**
 * Test doubles for the together tests: a quadratic loss probe whose "batches" name target vectors, so a
 * contribution's effect on each batch is known exactly without running the engine.
 */
import { mulberry32 } from '../../random';
import type { Batch } from '../../train';
import type { LossProbe } from './gauntlet';

export class QuadraticProbe implements LossProbe {
  readonly targets: Float32Array[] = [];

  /** `common` is shared by every batch; each batch adds its own `spread`-sized offset. */
  constructor(
    readonly n: number,
    batches: number,
    common: Float32Array,
    spread: number,
    seed = 1,
  ) {
    const u = mulberry32(seed);
    for (let b = 0; b < batches; b++) this.targets.push(common.map((c) => c + spread * (u() - 0.5)));
  }

  batch(id: number): Batch {
    return { inputs: Int32Array.of(id), targets: Int32Array.of(id) };
  }

  loss(params: Float32Array, id: number): number {
    const t = this.targets[id]!;
    let s = 0;
    for (let i = 0; i < params.length; i++) s += (params[i]! - t[i]!) ** 2;
    return s / params.length;
  }

  async losses(params: Float32Array, batches: readonly Batch[]): Promise<number[]> {
    return batches.map((b) => this.loss(params, b.targets[0]!));
  }

  /** θ_start − θ_end after `steps` gradient steps of size lr towards the named batches' targets. */
  delta(start: Float32Array, ids: readonly number[], lr: number, steps: number): Float32Array {
    const x = start.slice();
    for (let s = 0; s < steps; s++) {
      const t = this.targets[ids[s % ids.length]!]!;
      for (let i = 0; i < x.length; i++) x[i] = x[i]! - lr * 2 * (x[i]! - t[i]!);
    }
    return start.map((v, i) => v - x[i]!);
  }
}

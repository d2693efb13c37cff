/**
 * The training job's view of a backend: one step that skips its update when the loss is not finite, a
 * validation loss, and moving state in and out. Async because a WebGPU backend reads back asynchronously;
 * the WASM adapter here is the one Node, workers and tests share (web/src/train adds WebGPU's).
 */
import {
  type AdamWHyper,
  type Backend,
  backward,
  type Batch,
  captureFrom,
  encodeForward,
  GRAD_CLIP,
  loadBatch,
  restoreInto,
  SCALAR_GRAD_NORM,
  SCALAR_LOSS,
  type TrainState,
  type WasmBackend,
} from '../../train';

export interface StepResult {
  readonly loss: number;
  /** False when the loss was NaN or ±Inf: the weights and moments were left untouched. */
  readonly applied: boolean;
}

export interface TrainEngine {
  readonly name: string;
  step(batch: Batch, hp: AdamWHyper, t: number): Promise<StepResult>;
  evalLoss(batch: Batch): Promise<number>;
  load(state: TrainState): Promise<void>;
  /** Copies weights and moments into the state. */
  save(state: TrainState): Promise<void>;
  /** The f32 master weights (a view or a copy; read before the next step). */
  params(): Promise<Float32Array>;
  dispose(): void;
}

/**
 * The shared step (step.ts) split where the loss is known: forward and backward, then clip and AdamW only
 * for a finite loss. The same kernel calls in the same order as trainStep, so results are bit-identical.
 */
export function stepSkippingNonFinite(b: Backend, batch: Batch, hp: AdamWHyper, t: number): StepResult {
  const a = b.arena;
  loadBatch(b, batch);
  encodeForward(b);
  const loss = b.readFloats(a.scalarsAt + SCALAR_LOSS, 1)[0]!;
  if (!Number.isFinite(loss)) return { loss, applied: false };
  backward(b);
  b.kernels.clipAdamw(
    a.paramsAt,
    a.gradsAt,
    a.mAt,
    a.vAt,
    a.params.size,
    hp,
    t,
    GRAD_CLIP,
    a.scalarsAt + SCALAR_GRAD_NORM,
  );
  return { loss, applied: true };
}

export class WasmTrainEngine implements TrainEngine {
  constructor(readonly backend: WasmBackend) {}

  get name(): string {
    return this.backend.name;
  }
  async step(batch: Batch, hp: AdamWHyper, t: number): Promise<StepResult> {
    return stepSkippingNonFinite(this.backend, batch, hp, t);
  }
  async evalLoss(batch: Batch): Promise<number> {
    const b = this.backend;
    loadBatch(b, batch);
    encodeForward(b);
    return b.readFloats(b.arena.scalarsAt + SCALAR_LOSS, 1)[0]!;
  }
  async load(state: TrainState): Promise<void> {
    restoreInto(this.backend, state);
  }
  async save(state: TrainState): Promise<void> {
    captureFrom(this.backend, state);
  }
  async params(): Promise<Float32Array> {
    const b = this.backend;
    return b.f.subarray(b.arena.paramsAt, b.arena.paramsAt + b.arena.params.size);
  }
  dispose(): void {
    this.backend.dispose();
  }
}

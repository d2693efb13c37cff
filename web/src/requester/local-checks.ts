/**
 * The requester's own engine, re-running units the coordinator asks it to
 * check (SPEC TRUST-A1, TRUST-Q2). One check at a time, off the dispatch path:
 * the engine is one resource and a check must not stall results arriving.
 */
import { messageOf } from '@shared/errors';
import { providerAdapterClass } from '@shared/jobs';
import type { RawTensor } from '@shared/protocol';
import type { ComputeEngine } from '../core/ports';

export type CheckOutcome = { ok: true; outputs: RawTensor[] } | { ok: false; message: string };

export class LocalChecks {
  private chain = Promise.resolve();

  constructor(
    private readonly engine: ComputeEngine,
    private readonly model: { onnx(hash: string): Uint8Array },
  ) {}

  /** The class the requester's own results are compared under. */
  get adapterClass(): string {
    return providerAdapterClass({ backend: this.engine.backend });
  }

  /** Runs `inputs` on model version `hash` after every earlier check; `done` gets the outputs, or why the engine failed. */
  run(hash: string, inputs: () => RawTensor[], done: (outcome: CheckOutcome) => void): void {
    this.chain = this.chain.then(async () => {
      let outcome: CheckOutcome;
      try {
        await this.engine.load(hash, this.model.onnx(hash));
        outcome = { ok: true, outputs: await this.engine.run(hash, inputs()) };
      } catch (error) {
        outcome = { ok: false, message: messageOf(error) };
      }
      done(outcome);
    });
  }
}

/**
 * The requester's check of a provider's checkpoint: the validation loss of its weights, computed here on
 * the job's own validation batches (shared/src/jobs/train/remote.ts says what that guarantees). It runs
 * single-threaded WASM, whatever backend the provider used, and keeps the encoded corpus per tokenizer so
 * a job's later checkpoints do not encode it again.
 */
import {
  type CheckpointRecord,
  checkpointValLoss,
  prepareData,
  readCheckpoint,
  type TrainData,
  type TrainSpec,
  WasmTrainEngine,
} from '@shared/jobs';
import { arenaFor, WasmBackend } from '@shared/train';
import type { CheckpointVerifier } from './remote-run';

export class EngineVerifier implements CheckpointVerifier {
  private data: { key: string; data: TrainData } | null = null;
  private engine: { key: string; engine: WasmTrainEngine } | null = null;

  async valLoss(spec: TrainSpec, text: string, record: CheckpointRecord): Promise<number> {
    const checkpoint = readCheckpoint(record, spec.model);
    const tokKey = `${spec.id} ${JSON.stringify(record.tokenizer)}`;
    if (this.data?.key !== tokKey)
      this.data = { key: tokKey, data: prepareData(spec.model, text, checkpoint.tokenizer) };
    const engineKey = `${JSON.stringify(spec.model)} ${spec.batch}`;
    if (this.engine?.key !== engineKey) {
      this.engine?.engine.dispose();
      const backend = await WasmBackend.create(arenaFor(spec.model, spec.batch, spec.model.context));
      this.engine = { key: engineKey, engine: new WasmTrainEngine(backend) };
    }
    return checkpointValLoss(spec, this.data.data, checkpoint, this.engine.engine);
  }

  dispose(): void {
    this.engine?.engine.dispose();
    this.engine = null;
    this.data = null;
  }
}

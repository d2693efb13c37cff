/** The page's one Trainer, over the app's IndexedDB store, restored once. */
import { startRequester } from '../requester/boot';
import { idbStore } from '../storage/kv';
import { RemoteTrainRun } from './remote-run';
import { TogetherRun } from './together-run';
import { browserWorker, type WorkerFactory } from './train-worker-factory';
import { Trainer } from './trainer';
import { TrainStore } from './train-store';
import { EngineVerifier } from './verifier';

/** Its own database: the training records never collide with the inference jobs' keys. */
export const TRAIN_DB = 'templar-train';

let trainer: { trainer: Trainer; ready: Promise<void> } | null = null;

/** This device's worker, or a run on one provider through the requester's signaling (started on first use). */
const workerFor: WorkerFactory = (spec) =>
  spec.where === 'provider'
    ? new RemoteTrainRun(startRequester().network.then((n) => ({ ...n, verifier: new EngineVerifier() })))
    : spec.where === 'together'
      ? new TogetherRun(startRequester().network.then((n) => ({ ...n, store: trainKv() })))
      : browserWorker(spec);

let kv: ReturnType<typeof idbStore> | null = null;
/** The Train tab's IndexedDB store (checkpoints, and a together job's audit log). */
export function trainKv() {
  kv ??= idbStore(TRAIN_DB, 'kv');
  return kv;
}

export function startTrainer(): { trainer: Trainer; ready: Promise<void> } {
  if (trainer === null) {
    const t = new Trainer(new TrainStore(trainKv()), workerFor);
    trainer = { trainer: t, ready: t.restore() };
  }
  return trainer;
}

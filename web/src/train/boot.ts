/** The page's one Trainer, over the app's IndexedDB store, restored once. */
import { idbStore } from '../storage/kv';
import { Trainer } from './trainer';
import { TrainStore } from './train-store';

/** Its own database: the training records never collide with the inference jobs' keys. */
export const TRAIN_DB = 'templar-train';

let trainer: { trainer: Trainer; ready: Promise<void> } | null = null;

export function startTrainer(): { trainer: Trainer; ready: Promise<void> } {
  if (trainer === null) {
    const t = new Trainer(new TrainStore(idbStore(TRAIN_DB, 'kv')));
    trainer = { trainer: t, ready: t.restore() };
  }
  return trainer;
}

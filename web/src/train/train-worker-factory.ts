/**
 * How a page gets a training worker: the requester's Trainer (this device, or a stand-in that trains on a
 * provider) and the provider's training host both start `train.worker.ts` through this one place.
 */
import type { TrainSpec } from '@shared/jobs';
import type { FromTrainWorker, ToTrainWorker } from './messages';

export interface WorkerLike {
  postMessage(m: ToTrainWorker): void;
  onmessage: ((e: MessageEvent<FromTrainWorker>) => void) | null;
  onerror: ((e: ErrorEvent) => void) | null;
  terminate(): void;
}

/** A worker for `spec`'s job: a Web Worker here, or (remote-run.ts) one that trains on a provider. */
export type WorkerFactory = (spec: TrainSpec) => WorkerLike;

export const browserWorker: WorkerFactory = () =>
  new Worker(new URL('./train.worker.ts', import.meta.url), { type: 'module', name: 'train' }) as unknown as WorkerLike;

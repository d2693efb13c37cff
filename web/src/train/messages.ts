/** What the requester's page and its training worker say to each other (structured-clone data only). */
import type { CheckpointRecord, TrainEvent, TrainSpec } from '@shared/jobs';

export type ToTrainWorker =
  | {
      readonly type: 'start';
      readonly spec: TrainSpec;
      readonly text: string;
      /** Resume from this (already validated on the page, re-validated in the worker). */
      readonly checkpoint: CheckpointRecord | null;
    }
  | { readonly type: 'pause' }
  | { readonly type: 'resume' }
  | { readonly type: 'cancel' };

export type FromTrainWorker =
  /** Long set-up work (learning the tokenizer, encoding the corpus) before the first step. */
  | { readonly type: 'preparing'; readonly message: string }
  | { readonly type: 'started'; readonly backend: string; readonly step: number; readonly note: string }
  | { readonly type: 'event'; readonly event: TrainEvent }
  /** The WebGPU device was lost mid-run: the page restarts the job on WASM from its newest checkpoint. */
  | { readonly type: 'device-lost'; readonly message: string }
  /** Failure before the loop ran (config, data, backend); `code` is the TrainError code when there is one. */
  | { readonly type: 'error'; readonly code: string; readonly message: string };

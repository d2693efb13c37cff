/**
 * Web Worker diff path: the change scan runs in a dedicated worker, so a
 * requester's tab stays responsive while diffing a large model. Inputs are
 * copied to the worker (the caller keeps its arrays); positions come back
 * transferred.
 */

import type { ChangeFinder, TensorData } from '@shared/pulse';
import { WorkerDiffError } from './errors';

export interface WorkerDiffRequest {
  readonly id: number;
  readonly a: TensorData;
  readonly b: TensorData;
}

export type WorkerDiffReply =
  | { readonly id: number; readonly positions: Uint32Array }
  | { readonly id: number; readonly error: string };

export interface WorkerDiffer {
  readonly findChanges: ChangeFinder;
  destroy(): void;
}

export function createWorkerDiffer(
  spawn: () => Worker = () =>
    new Worker(new URL('./diff.worker.ts', import.meta.url), { type: 'module', name: 'pulse-diff' }),
): WorkerDiffer {
  const worker = spawn();
  const pending = new Map<number, { resolve: (p: Uint32Array) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  const failAll = (message: string): void => {
    for (const p of pending.values()) p.reject(new WorkerDiffError(message));
    pending.clear();
  };
  worker.onmessage = (event: MessageEvent<WorkerDiffReply>) => {
    const reply = event.data;
    const p = pending.get(reply.id);
    if (p === undefined) return;
    pending.delete(reply.id);
    if ('error' in reply) p.reject(new WorkerDiffError(reply.error));
    else p.resolve(reply.positions);
  };
  worker.onerror = (event) => failAll(`diff worker failed: ${event.message}`);
  const findChanges: ChangeFinder = (a, b) =>
    new Promise<Uint32Array>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, a, b } satisfies WorkerDiffRequest);
    });
  return {
    findChanges,
    destroy: () => {
      worker.terminate();
      failAll('diff worker terminated');
    },
  };
}

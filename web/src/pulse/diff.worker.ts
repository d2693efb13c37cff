/// <reference lib="webworker" />
/** Diff worker: runs the CPU change scan off the main thread. */

import { findChangesCpu } from '@shared/pulse';
import type { WorkerDiffReply, WorkerDiffRequest } from './workerDiff';

const scope = self as unknown as DedicatedWorkerGlobalScope;

scope.onmessage = (event: MessageEvent<WorkerDiffRequest>) => {
  const { id, a, b } = event.data;
  try {
    const positions = findChangesCpu(a, b);
    scope.postMessage({ id, positions } satisfies WorkerDiffReply, [positions.buffer]);
  } catch (e) {
    scope.postMessage({ id, error: e instanceof Error ? e.message : String(e) } satisfies WorkerDiffReply);
  }
};

/**
 * What a job will take before anything is generated or stored: its inputs,
 * its results and its model, against what the browser can hold. A job that
 * does not fit is refused with both figures, instead of a raw storage or
 * typed-array error after minutes of "Preparing…" (issue 21).
 */
import { dtypeBytes } from '../protocol/peer';
import { isDType, type Dim } from '../tensor/types';
import { formatBytes } from './train/estimate';

/**
 * The largest single array the app makes: each input and output is one typed
 * array in memory. 2 GiB − 1 is what every 64-bit browser allows (Chromium
 * and Firefox allow more today, Safari 4 GiB; older engines stopped at 2^31 − 1
 * elements or bytes), and IndexedDB refused a ~2 GB value outright
 * ("The serialized keys and/or value are too large (size=2048000161 …)").
 */
export const MAX_ARRAY_BYTES = 2 ** 31 - 1;

/**
 * Storage the app keeps free beyond a job's own bytes: IndexedDB's own
 * overhead (keys, structured-clone headers, its journal) and room for the
 * other jobs' event logs. 5% measured generous on Chromium's LevelDB backend.
 */
export const STORAGE_OVERHEAD_FRACTION = 0.05;

export interface SizedTensor {
  name: string;
  dtype: string;
  dims: readonly Dim[];
  /** false: no batch axis (sent whole, or an output of the whole batch). */
  batched?: boolean;
}

export interface JobSize {
  inputBytes: number;
  resultBytes: number;
  modelBytes: number;
  /** The largest single tensor, with its name: it must fit one typed array. */
  largest: { name: string; bytes: number };
  /** Some output dimension is unknown until the model runs: results are at least resultBytes. */
  resultsAtLeast: boolean;
}

export class JobSizeError extends Error {
  override name = 'JobSizeError';
}

function bytesOf(t: SizedTensor, rows: number): { bytes: number; exact: boolean } {
  const width = isDType(t.dtype) ? dtypeBytes(t.dtype) : 4;
  let exact = true;
  const count = t.dims.reduce<number>((n, d, axis) => {
    if (axis === 0 && t.batched !== false) return n * rows;
    if (typeof d === 'number' && d >= 0) return n * d;
    exact = false;
    return n;
  }, 1);
  return { bytes: count * width, exact };
}

/** Sizes of a job of `rows` rows from the model's tensor specs. */
export function estimateJobSize(
  inputs: readonly SizedTensor[],
  outputs: readonly SizedTensor[],
  rows: number,
  modelBytes: number,
): JobSize {
  let largest = { name: '', bytes: 0 };
  const sum = (tensors: readonly SizedTensor[]) =>
    tensors.reduce(
      (acc, t) => {
        const { bytes, exact } = bytesOf(t, rows);
        if (bytes > largest.bytes) largest = { name: t.name, bytes };
        return { bytes: acc.bytes + bytes, exact: acc.exact && exact };
      },
      { bytes: 0, exact: true },
    );
  const inputSum = sum(inputs);
  const resultSum = sum(outputs);
  return {
    inputBytes: inputSum.bytes,
    resultBytes: resultSum.bytes,
    modelBytes,
    largest,
    resultsAtLeast: !resultSum.exact,
  };
}

/** Bytes the job needs in storage: inputs, results and model, with IndexedDB's overhead. */
export function storageNeeded(size: JobSize): number {
  return Math.ceil((size.inputBytes + size.resultBytes + size.modelBytes) * (1 + STORAGE_OVERHEAD_FRACTION));
}

/**
 * Refuses a job that cannot fit: a tensor past one typed array, or more bytes
 * than the origin may still store (`available`: quota − usage from
 * navigator.storage.estimate(); undefined where the browser does not say).
 */
export function checkJobFits(size: JobSize, available: number | undefined): void {
  if (size.largest.bytes > MAX_ARRAY_BYTES)
    throw new JobSizeError(
      `"${size.largest.name}" would be ${formatBytes(size.largest.bytes)} in one array, more than the ${formatBytes(MAX_ARRAY_BYTES)} a browser array holds; use fewer rows or split the inputs into several jobs`,
    );
  const needed = storageNeeded(size);
  if (available !== undefined && needed > available) {
    const parts = `inputs ${formatBytes(size.inputBytes)}, results ${size.resultsAtLeast ? 'at least ' : ''}${formatBytes(size.resultBytes)}, model ${formatBytes(size.modelBytes)}`;
    throw new JobSizeError(
      `this job needs about ${formatBytes(needed)} of storage (${parts}) and this browser lets the page store ${formatBytes(Math.max(0, available))} more; use fewer rows, or delete finished jobs to free space`,
    );
  }
}

import { describe, expect, it } from 'vitest';
import * as v from 'valibot';
import {
  averageRowsPerSecond,
  etaMs,
  eventsAsJsonl,
  formatDuration,
  JobEventSchema,
  JobHistorySchema,
  MAX_PROGRESS_POINTS,
  newJobHistory,
  providerRowsPerSecond,
  withProgressPoint,
} from './history';
import { checkJobFits, estimateJobSize, JobSizeError, MAX_ARRAY_BYTES, storageNeeded } from './job-size';

describe('job history arithmetic (issue 21, defect 1)', () => {
  it('HIST1: the average is rows over running time and stays put once work stops', () => {
    const h = { ...newJobHistory('job-abcdefgh', 1000), rowsDone: 500, activeMs: 10_000 };
    expect(averageRowsPerSecond(h)).toBe(50);
    // No decaying window: the same record gives the same figure whenever it is read.
    expect(averageRowsPerSecond(structuredClone(h))).toBe(50);
    expect(averageRowsPerSecond({ rowsDone: 0, activeMs: 0 })).toBe(0);
  });

  it('HIST2: the ETA is the rows left at the average; unknown before any rate, 0 when done', () => {
    expect(etaMs({ rowsDone: 500, activeMs: 10_000 }, 1000)).toBe(10_000);
    expect(etaMs({ rowsDone: 0, activeMs: 0 }, 1000)).toBeUndefined();
    expect(etaMs({ rowsDone: 1000, activeMs: 10_000 }, 1000)).toBe(0);
  });

  it('HIST3: a provider rate spans its join to its last accepted unit', () => {
    expect(providerRowsPerSecond({ peerId: 'p', units: 4, rows: 64, joinedAt: 1000, lastUnitAt: 5000 })).toBe(16);
    expect(providerRowsPerSecond({ peerId: 'p', units: 0, rows: 0, joinedAt: 1000 })).toBe(0);
  });

  it('HIST4: progress thins to at most MAX_PROGRESS_POINTS and keeps its first and newest points', () => {
    let progress: [number, number][] = [];
    for (let i = 0; i < 1000; i++) progress = withProgressPoint(progress, [i, i * 2]);
    expect(progress.length).toBeLessThanOrEqual(MAX_PROGRESS_POINTS);
    expect(progress[0]).toEqual([0, 0]);
    expect(progress.at(-1)).toEqual([999, 1998]);
    expect(progress.every(([t], i) => i === 0 || t > progress[i - 1]![0])).toBe(true);
  });

  it('HIST5: stored history and events are validated: a wrong shape or a huge text is refused', () => {
    const good = newJobHistory('job-abcdefgh', 1);
    expect(v.safeParse(JobHistorySchema, good).success).toBe(true);
    expect(v.safeParse(JobHistorySchema, { ...good, rowsDone: -1 }).success).toBe(false);
    expect(v.safeParse(JobHistorySchema, { ...good, extra: 1 }).success).toBe(false);
    expect(v.safeParse(JobHistorySchema, { ...good, jobId: '../x' }).success).toBe(false);
    expect(v.safeParse(JobEventSchema, { at: 1, kind: 'join', text: 'x' }).success).toBe(true);
    expect(v.safeParse(JobEventSchema, { at: 1, kind: 'explode', text: 'x' }).success).toBe(false);
    expect(v.safeParse(JobEventSchema, { at: 1, kind: 'join', text: 'x'.repeat(5000) }).success).toBe(false);
  });

  it('HIST6: events export as one JSON object per line', () => {
    const text = eventsAsJsonl([
      { at: 1, kind: 'join', peerId: 'p1', text: 'joined' },
      { at: 2, kind: 'done', text: 'done' },
    ]);
    const lines = text.trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l).kind)).toEqual(['join', 'done']);
    expect(eventsAsJsonl([])).toBe('');
  });

  it('formats durations for the job list', () => {
    expect(formatDuration(12_400)).toBe('12.4 s');
    expect(formatDuration(185_000)).toBe('3 min 05 s');
    expect(formatDuration(3_720_000)).toBe('1 h 02 min');
  });
});

describe('job size before anything is stored (issue 21, limits stated before they bite)', () => {
  const matmul = {
    inputs: [{ name: 'x', dtype: 'float32', dims: ['batch', 256] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: ['batch', 256] }],
  };

  it('SIZE1: inputs and results are rows × row bytes; the model is counted', () => {
    const size = estimateJobSize(matmul.inputs, matmul.outputs, 1000, 4096);
    expect(size).toMatchObject({ inputBytes: 1_024_000, resultBytes: 1_024_000, modelBytes: 4096 });
    expect(size.largest).toEqual({ name: 'x', bytes: 1_024_000 });
    expect(storageNeeded(size)).toBeGreaterThan(2_052_096);
  });

  it('SIZE2: a job past the storage left is refused with the estimate and the limit in the message', () => {
    const size = estimateJobSize(matmul.inputs, matmul.outputs, 2_000_000, 4096);
    expect(() => checkJobFits(size, 50 * 2 ** 20)).toThrow(JobSizeError);
    expect(() => checkJobFits(size, 50 * 2 ** 20)).toThrow(/needs about 4\.\d+ GiB .* store 50\.0 MiB more/);
    expect(() => checkJobFits(size, undefined)).not.toThrow();
  });

  it('SIZE3: a tensor past one typed array is refused whatever the quota (1e8 rows gave "Invalid typed array length")', () => {
    const size = estimateJobSize(matmul.inputs, matmul.outputs, 1e8, 4096);
    expect(size.largest.bytes).toBeGreaterThan(MAX_ARRAY_BYTES);
    expect(() => checkJobFits(size, Number.MAX_SAFE_INTEGER)).toThrow(/"x" would be .* in one array/);
  });

  it('SIZE4: an output dim unknown before the model runs makes the results a lower bound', () => {
    const size = estimateJobSize(matmul.inputs, [{ name: 'y', dtype: 'float32', dims: ['batch', 'n'] }], 10, 1);
    expect(size.resultsAtLeast).toBe(true);
    expect(() => checkJobFits(size, 10)).toThrow(/results at least/);
  });
});

/**
 * The learning-rate schedule of a training job: linear warmup from 0 to the peak, then a cosine decay to
 * minRatio × peak at the last step (GPT-2/3 and llm.c practice). A pure function of the step, so a resumed
 * run gets the same rates.
 */
export interface LrSchedule {
  readonly peak: number;
  /** Steps of linear warmup (0 starts at the peak). */
  readonly warmup: number;
  /** The floor as a share of the peak, reached at the last step (0..1). */
  readonly minRatio: number;
}

/** Rate for 1-based step t of `total`. */
export function learningRate(s: LrSchedule, t: number, total: number): number {
  if (t <= s.warmup) return (s.peak * t) / Math.max(1, s.warmup);
  const span = Math.max(1, total - s.warmup);
  const progress = Math.min(1, (t - s.warmup) / span);
  const floor = s.peak * s.minRatio;
  return floor + 0.5 * (s.peak - floor) * (1 + Math.cos(Math.PI * progress));
}

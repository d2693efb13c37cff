/**
 * Curves as uPlot wants them: one x array (steps) and one y array per series, aligned, with null where a
 * series has no point (validation runs every N steps only).
 */
import type { TrainHistory } from '@shared/jobs';

export type Aligned = [number[], ...(number | null)[][]];

/** Train and validation loss by step; with `baseline`, a third series: its validation loss (one worker). */
export function lossSeries(h: TrainHistory, baseline?: TrainHistory): Aligned {
  const steps = new Set<number>();
  for (const [s] of h.train) steps.add(s);
  for (const [s] of h.val) steps.add(s);
  for (const [s] of baseline?.val ?? []) steps.add(s);
  const xs = [...steps].sort((a, b) => a - b);
  const train = new Map(h.train);
  const val = new Map(h.val);
  const out: Aligned = [xs, xs.map((s) => train.get(s) ?? null), xs.map((s) => val.get(s) ?? null)];
  if (baseline) {
    const one = new Map(baseline.val);
    out.push(xs.map((s) => one.get(s) ?? null));
  }
  return out;
}

export function speedSeries(h: TrainHistory): Aligned {
  return [h.speed.map(([s]) => s), h.speed.map(([, v]) => v)];
}

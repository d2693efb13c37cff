/**
 * Curves as uPlot wants them: one x array (steps) and one y array per series, aligned, with null where a
 * series has no point (validation runs every N steps only).
 */
import type { TrainHistory } from '@shared/jobs';

export type Aligned = [number[], ...(number | null)[][]];

export function lossSeries(h: TrainHistory): Aligned {
  const steps = new Set<number>();
  for (const [s] of h.train) steps.add(s);
  for (const [s] of h.val) steps.add(s);
  const xs = [...steps].sort((a, b) => a - b);
  const train = new Map(h.train);
  const val = new Map(h.val);
  return [xs, xs.map((s) => train.get(s) ?? null), xs.map((s) => val.get(s) ?? null)];
}

export function speedSeries(h: TrainHistory): Aligned {
  return [h.speed.map(([s]) => s), h.speed.map(([, v]) => v)];
}

/**
 * GRAIL-style commitment to the policy's hidden states: at every position,
 * the indices of the top-k |activations| of the final LayerNorm output and
 * their signed log2 buckets (3 bytes an entry). The trainer, after the
 * rollout arrives, picks K positions from a hash with its own nonce and
 * checks each claimed entry against its recomputation: the index must be in
 * its top (k + slack) and the bucket within SKETCH_BUCKET_TOL. Backend noise
 * (f32 rounding, ~1e-5 relative) moves an entry across a ~9% bucket only when
 * it sits on an edge, and then by one; another model's states agree on
 * almost nothing.
 */
import { mulberry32 } from '../../random';
import {
  SKETCH_BUCKET_TOL,
  SKETCH_BUCKETS_PER_OCTAVE,
  SKETCH_ENTRY_FAILS,
  SKETCH_MIN_LOG2,
  SKETCH_POSITIONS,
  SKETCH_RANK_SLACK,
  SKETCH_TOP_K,
} from './constants';
import { hash32 } from './hash';

export interface Sketch {
  readonly k: number;
  readonly positions: number;
  /** positions × k channel ids, largest |h| first. */
  readonly indices: Uint16Array;
  /** positions × k signed buckets: ±(1 + level), level = round((log2|h| − MIN_LOG2) · per octave), clamped to 0..126. */
  readonly buckets: Int8Array;
}

export function bucketOf(x: number): number {
  const level = Math.round((Math.log2(Math.abs(x)) - SKETCH_MIN_LOG2) * SKETCH_BUCKETS_PER_OCTAVE);
  const m = 1 + Math.min(126, Math.max(0, Number.isFinite(level) ? level : 0));
  return x < 0 ? -m : m;
}

/**
 * The k largest |row[at + i]| over i < C, largest first, ties to the lower id, with their ids: one pass that
 * inserts into a sorted list of k (most values fall below its last and cost one comparison), instead of
 * sorting all C. A provider runs it at every position of every rollout, the trainer at the checked ones.
 */
export function topByMagnitude(
  row: ArrayLike<number>,
  at: number,
  C: number,
  k: number,
): { readonly ids: number[]; readonly mags: number[] } {
  const ids: number[] = [];
  const mags: number[] = [];
  for (let i = 0; i < C; i++) {
    const m = Math.abs(row[at + i]!);
    const full = ids.length === k;
    // A later id equal to the last kept one loses the tie.
    if (full && !(m > mags[k - 1]!)) continue;
    let j = full ? k - 1 : ids.length;
    while (j > 0 && mags[j - 1]! < m) {
      mags[j] = mags[j - 1]!;
      ids[j] = ids[j - 1]!;
      j--;
    }
    mags[j] = m;
    ids[j] = i;
  }
  return { ids, mags };
}

/** The sketch of `positions` rows of C hidden values. */
export function sketchHidden(hidden: ArrayLike<number>, positions: number, C: number, k = SKETCH_TOP_K): Sketch {
  const kk = Math.min(k, C);
  const indices = new Uint16Array(positions * kk);
  const buckets = new Int8Array(positions * kk);
  for (let t = 0; t < positions; t++) {
    topByMagnitude(hidden, t * C, C, kk).ids.forEach((id, r) => {
      indices[t * kk + r] = id;
      buckets[t * kk + r] = bucketOf(hidden[t * C + id]!);
    });
  }
  return { k: kk, positions, indices, buckets };
}

/** Wire size of a sketch. */
export function sketchBytes(s: Sketch): number {
  return s.indices.byteLength + s.buckets.byteLength;
}

/** K distinct positions in 0..total−1 (all when total ≤ K), from the trainer's nonce and the rollout's hash. */
export function choosePositions(nonce: string, rolloutHash: string, total: number, K = SKETCH_POSITIONS): number[] {
  const all = Array.from({ length: total }, (_, i) => i);
  if (total <= K) return all;
  const u = mulberry32(hash32(['grail-positions', nonce, rolloutHash]));
  for (let i = 0; i < K; i++) {
    const j = i + Math.floor(u() * (total - i));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, K).sort((a, b) => a - b);
}

/** Claimed entries at position t that the trainer's row does not bear out (0..k). */
export function entryFailures(s: Sketch, t: number, row: ArrayLike<number>, at: number, C: number): number {
  const m = Math.min(C, s.k + SKETCH_RANK_SLACK);
  const floor = topByMagnitude(row, at, C, m).mags[m - 1]!;
  const seen = new Set<number>();
  let fails = 0;
  for (let r = 0; r < s.k; r++) {
    const id = s.indices[t * s.k + r]!;
    if (id >= C || seen.has(id)) {
      fails++;
      continue;
    }
    seen.add(id);
    const x = row[at + id]!;
    const claimed = s.buckets[t * s.k + r]!;
    const mine = bucketOf(x);
    const bucketOk = Math.sign(claimed) === Math.sign(mine) && Math.abs(claimed - mine) <= SKETCH_BUCKET_TOL;
    if (Math.abs(x) < floor || !bucketOk) fails++;
  }
  return fails;
}

export interface SketchCheck {
  readonly ok: boolean;
  readonly checked: readonly number[];
  /** Failing entries at the worst checked position. */
  readonly worstFails: number;
  /** Checked positions with more than SKETCH_ENTRY_FAILS failing entries. */
  readonly badPositions: readonly number[];
}

/** Checks a sketch against the trainer's hidden rows (positions × C) at the given positions. */
export function checkSketch(
  s: Sketch,
  hidden: ArrayLike<number>,
  C: number,
  positions: readonly number[],
  expectedK = SKETCH_TOP_K,
): SketchCheck {
  const shapeOk =
    s.k === Math.min(expectedK, C) &&
    s.indices.length === s.positions * s.k &&
    s.buckets.length === s.positions * s.k &&
    hidden.length >= s.positions * C;
  if (!shapeOk) return { ok: false, checked: positions, worstFails: s.k, badPositions: positions };
  let worst = 0;
  const bad: number[] = [];
  for (const t of positions) {
    const f = t < s.positions ? entryFailures(s, t, hidden, t * C, C) : s.k;
    worst = Math.max(worst, f);
    if (f > SKETCH_ENTRY_FAILS) bad.push(t);
  }
  return { ok: bad.length === 0, checked: positions, worstFails: worst, badPositions: bad };
}

/**
 * Gauntlet: scoring untrusted contributions (TRAINING.md), as pure decisions over a loss probe.
 *
 * Screening (cheap, every contribution, every round):
 *   - out of sync: trained from another version than the round's;
 *   - empty: nothing in it (a free rider);
 *   - norm: more than `maxNormRatio` × the round's median norm (a scaled-up gradient);
 *   - copy / stale: cosine ≥ `copyCosine` with a contribution of an earlier round (another provider's:
 *     copy; its own: stale) or with another provider's in this round (duplicate: both refused). Honest
 *     error-feedback contributions of one provider share positions from round to round but their values
 *     move; bench:train-net prints the largest honest cosine it saw next to the threshold.
 * Loss test (scoring): with θ' = θ − lr·ĉ (the contribution applied alone),
 *   gainV = mean over the round's random validation batches of L(θ) − L(θ'),
 *   gainA = the same over batches assigned to this provider this round (drawn by the requester from the
 *           later half of its round, while it trains or at the close, and never sent: the provider cannot
 *           know which are checked),
 *   gainC = the same over as many batches assigned to other providers this round: training data of the
 *           same distribution that this provider never saw (the validation tail is other text, so it
 *           is no control for memorisation).
 *   Refused when gainV ≤ minGainShare × the median gain of recent accepted contributions (it does not help:
 *   noise of an honest norm can lower the loss a little by chance, so "> 0" is not enough), or — when
 *   shardGap is set — gainA − gainC < shardGap·|gainC| (it helps no more on its own batches than on
 *   batches it never saw: it did not train on what it was given). bench:train-net prints the honest and
 *   the wrong-shard adversary's gaps: on the tiny preset with 2 + 2 batches they overlap, so the shard
 *   test is off by default and the gap is reported, not acted on.
 *   The reference is the round's other work where there is some (rounds.ts passes it as `reference`): a
 *   trusted key's sampled test, run after its round, is held against what the round's step without it
 *   gained per unit of its rate on the same validation batches, and a new key against what the step of
 *   this round's trusted contributions alone would gain (new keys cannot move that bar). Gains shrink as
 *   training goes on and some batches gain less than others; both cancel in the ratio. Replaying
 *   E2E-TOGETHER1's configuration in Node over 20 seeds, the median bar refused an honest trusted key in 3
 *   runs (at 0.11–0.38 of it); against its round's other work the honest ratios were 0.47–2.16 (median
 *   1.2) over 41 tests, and no run refused one.
 *   Direction is measured too: the gain per unit of distance the contribution moves the weights (L2)
 *   against minGainShare × the reference's (per contribution of the reference, not per its average, which
 *   averaging shrinks), the full share whatever the key's age. Under it, with `offCourse`, a contribution
 *   is refused 'off-course' (decided, like 'no-gain', on a larger draw first). Noise of an honest norm
 *   can pass a young key's size bar on two lucky batches, but it points nowhere: bench:train-net --quick
 *   measured it at ≤ 0.21× this bar (honest tests ≥ 1.24×), and with it the noise adversary is caught in
 *   its first round instead of its second. It was once left off because it refused an honest joiner's
 *   first contribution in E2E-TOGETHER2 at 0.97×: a fresh inner optimizer's first steps are sign-like and
 *   point worse. Joiners now warm their optimizer first (RoundTrainer.warm), which nearly doubled their
 *   first contribution's gain over its bar in a Node replay of that test (least 3.2× → 5.8×, 16 seeds).
 *   Gains are compared per unit of the lr they were applied at: a contribution's share of the round's step
 *   (the outer lr over the contributions, so it falls when one joins; for a sampled test, the rate the round
 *   was published at over those it counted), and the reference is built at the same share (rounds.ts).
 *   Tested at the job's rate where the guard had taken a smaller one, an honest contribution can overshoot
 *   (TOGETHER-R5: −0.72 where its share of the published step gains 0.13); in E2E-TOGETHER1 at top 64 of
 *   4096 a trusted key's sampled test so read −0.14 per unit of rate and the key was refused.
 *   A key's first `youngRounds` contributions face a lower bar, (n + 1) / (youngRounds + 1) of the share
 *   for its n-th: error feedback starts empty, so a volunteer's contributions grow over its first rounds,
 *   and an honest tab that joins mid-training measured ~1/5 of the established ones' gain in its first
 *   round (bench:train-net's join case). It must still help.
 */
import type { Batch } from '../../train';
import type { Contribution } from './compress';
import { forEachValue } from './compress';
import { cosine, type Sparse, sparseOf } from './similarity';

export interface LossProbe {
  /** The mean loss of `params` on each batch. */
  losses(params: Float32Array, batches: readonly Batch[]): Promise<number[]>;
}

export interface GauntletOptions {
  readonly maxNormRatio: number;
  readonly copyCosine: number;
  /** A contribution must gain at least this share of the recent median gain. */
  readonly minGainShare: number;
  /** null: the assigned-vs-unseen gap is measured and reported but refuses nothing. */
  readonly shardGap: number | null;
  /** How many earlier rounds' contributions a new one is compared with. */
  readonly historyRounds: number;
  /** Over a key's first this-many contributions the gain bar rises to minGainShare (see above). */
  readonly youngRounds: number;
  /** Refuse ('off-course') a contribution whose gain per unit of movement is under barPerMove (see above). */
  readonly offCourse: boolean;
}

export const GAUNTLET_DEFAULTS: GauntletOptions = {
  maxNormRatio: 3,
  copyCosine: 0.9,
  minGainShare: 0.25,
  shardGap: null,
  historyRounds: 8,
  youngRounds: 3,
  offCourse: true,
};

export type RefusalReason =
  | 'out-of-sync'
  | 'empty'
  | 'norm'
  | 'copy'
  | 'stale'
  | 'duplicate'
  | 'no-gain'
  | 'off-course'
  | 'wrong-shard'
  | 'malformed'
  | 'late'
  | 'commitment'
  | 'banned';

export const REFUSAL_TEXT: Record<RefusalReason, string> = {
  'out-of-sync': 'trained from an old version',
  empty: 'carried nothing',
  norm: "far larger than the round's median",
  copy: "a copy of another provider's contribution",
  stale: 'a replay of its own earlier contribution',
  duplicate: "identical to another provider's in the same round",
  'no-gain': 'did not lower the validation loss',
  'off-course': 'lowered the validation loss too little for how far it moves the weights',
  'wrong-shard': 'helped no more on its own shard than on unseen data',
  malformed: 'did not decode',
  late: 'revealed after the deadline',
  commitment: 'did not match its commitment or signature',
  banned: 'this key was refused before',
};

export interface Screened {
  readonly provider: string;
  readonly contribution: Contribution;
  readonly sparse: Sparse;
  /** Norm over the round's median norm. */
  readonly normRatio: number;
  /** Largest cosine with any earlier or same-round contribution of another provider, or its own earlier. */
  readonly maxCosine: number;
  readonly refusal: RefusalReason | null;
}

export interface Score {
  readonly gainV: number;
  /** gainV per unit of the lr the contribution was applied at (what noteAccepted keeps). */
  readonly gainPerLr: number;
  readonly gainA: number;
  readonly gainC: number;
  /** The gain per unit lr it had to beat (gainPerLr against it decides 'no-gain'). */
  readonly bar: number;
  /** gainV per unit of distance it moved the weights (L2): how well it points, whatever its size. */
  readonly gainPerMove: number;
  /** The gain per unit of movement it had to beat: a quarter of the reference's, young or not. */
  readonly barPerMove: number;
  readonly refusal: RefusalReason | null;
}

interface Past {
  readonly round: number;
  readonly provider: string;
  readonly sparse: Sparse;
}

export interface Submission {
  readonly provider: string;
  /** The version hash the provider says it trained from. */
  readonly baseHash: string;
  readonly contribution: Contribution;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? 0 : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** What a loss test holds a contribution against: gains per unit lr and per unit of weight movement. */
export interface Reference {
  readonly perLr: number;
  readonly perMove: number;
}

export class Gauntlet {
  private history: Past[] = [];
  /** Gains per unit lr of recently accepted contributions, with their rounds (the reference for the next loss tests). */
  private recentGains: { round: number; gain: number; move: number | null }[] = [];

  /**
   * Records an accepted contribution's gain per unit of the lr it was applied at. The bar is the median of
   * those from the last historyRounds rounds before the one scored (at most the last 64): gains shrink as
   * training goes on, and a bar kept from early rounds would refuse honest work late in a long run. Once
   * trusted keys are only sampled, few gains are noted a round, so a bar counted in contributions (the last
   * 16) stayed rounds behind: in a 24-round bench run it refused every honest key from round 19 on.
   */
  noteAccepted(gainPerLr: number, round = 0, gainPerMove: number | null = null): void {
    this.recentGains.push({ round, gain: gainPerLr, move: gainPerMove });
    if (this.recentGains.length > 64) this.recentGains.shift();
  }

  /** The median gains per lr and per unit of movement noted in the rounds the bar for `round` looks at (0 when none was). */
  private reference(round: number): Reference {
    const from = round - this.options.historyRounds;
    const recent = this.recentGains.filter((g) => g.round >= from && g.round <= round);
    const moves = recent.flatMap((g) => (g.move === null ? [] : [g.move]));
    return {
      perLr: recent.length > 0 ? median(recent.map((g) => g.gain)) : 0,
      perMove: moves.length ? median(moves) : 0,
    };
  }

  constructor(
    readonly probe: LossProbe,
    readonly options: GauntletOptions = GAUNTLET_DEFAULTS,
  ) {}

  /** The cheap checks for one round's submissions (in commit order). */
  screen(round: number, baseHash: string, submissions: readonly Submission[]): Screened[] {
    const sparse = submissions.map((s) => sparseOf(s.contribution));
    const norms = sparse.filter((s, i) => submissions[i]!.baseHash === baseHash && s.norm > 0).map((s) => s.norm);
    const mid = median(norms);
    const earlier = this.history.filter((p) => p.round < round && p.round >= round - this.options.historyRounds);
    const out = submissions.map((s, i) => {
      const sp = sparse[i]!;
      let refusal: RefusalReason | null = null;
      let maxCosine = 0;
      for (const p of earlier) {
        const c = cosine(sp, p.sparse);
        if (c > maxCosine) maxCosine = c;
        if (c >= this.options.copyCosine && refusal === null) refusal = p.provider === s.provider ? 'stale' : 'copy';
      }
      submissions.forEach((o, j) => {
        if (j === i || o.provider === s.provider) return;
        const c = cosine(sp, sparse[j]!);
        if (c > maxCosine) maxCosine = c;
        if (c >= this.options.copyCosine && refusal === null) refusal = 'duplicate';
      });
      const normRatio = mid > 0 ? sp.norm / mid : 0;
      if (s.baseHash !== baseHash) refusal = 'out-of-sync';
      else if (sp.norm === 0) refusal = 'empty';
      else if (normRatio > this.options.maxNormRatio) refusal ??= 'norm';
      return { provider: s.provider, contribution: s.contribution, sparse: sp, normRatio, maxCosine, refusal };
    });
    for (const s of out) this.history.push({ round, provider: s.provider, sparse: s.sparse });
    this.history = this.history.filter((p) => p.round > round - this.options.historyRounds);
    return out;
  }

  /** Losses of the base on the round's validation batches: computed once and shared by every score. */
  async baseLosses(base: Float32Array, batches: readonly Batch[]): Promise<number[]> {
    return this.probe.losses(base, batches);
  }

  /**
   * The loss test for one contribution. `before` holds the base's losses on `validation` (baseLosses);
   * `assigned` are batches of this provider's round, drawn by the requester. `age`: how many earlier rounds
   * this key took part in (young keys face a lower gain bar; omitted: the full bar). `reference`: the gains
   * to hold it against instead of the recent medians (rounds.ts passes what other work of the round gained
   * on the same validation batches).
   */
  async score(
    base: Float32Array,
    lr: number,
    contribution: Contribution,
    validation: readonly Batch[],
    before: readonly number[],
    assigned: readonly Batch[],
    control: readonly Batch[],
    age = Number.POSITIVE_INFINITY,
    round = 0,
    reference?: Reference,
  ): Promise<Score> {
    const alone = base.slice();
    let squares = 0;
    forEachValue(contribution, (p, v) => {
      alone[p] = alone[p]! - lr * v;
      squares += v * v;
    });
    const move = lr * Math.sqrt(squares);
    const [afterV, beforeA, afterA, beforeC, afterC] = await Promise.all([
      this.probe.losses(alone, validation),
      this.probe.losses(base, assigned),
      this.probe.losses(alone, assigned),
      this.probe.losses(base, control),
      this.probe.losses(alone, control),
    ]);
    const mean = (a: readonly number[], b: readonly number[]) => a.reduce((s, x, i) => s + x - b[i]!, 0) / a.length;
    const gainV = mean(before, afterV);
    const gainA = assigned.length > 0 ? mean(beforeA, afterA) : gainV;
    const gainC = control.length > 0 ? mean(beforeC, afterC) : gainV;
    const ref = reference ?? this.reference(round);
    const young = this.options.youngRounds;
    const share = this.options.minGainShare * (age < young ? (age + 1) / (young + 1) : 1);
    const gap = this.options.shardGap;
    let refusal: RefusalReason | null = null;
    const bar = share * ref.perLr;
    // Direction: the full share whatever the key's age (error feedback makes a young key's work small, not
    // aimless). A trusted key's sampled test under it only loses its trust (rounds.ts).
    const barPerMove = this.options.minGainShare * ref.perMove;
    const gainPerMove = move > 0 ? gainV / move : 0;
    if (!(gainV / lr > bar && gainV > 0)) refusal = 'no-gain';
    else if (this.options.offCourse && ref.perMove > 0 && !(gainPerMove > barPerMove)) refusal = 'off-course';
    else if (gap !== null && assigned.length > 0 && gainA - gainC < gap * Math.abs(gainC)) refusal = 'wrong-shard';
    return {
      gainV,
      gainPerLr: gainV / lr,
      gainA,
      gainC,
      bar,
      gainPerMove,
      barPerMove,
      refusal,
    };
  }
}

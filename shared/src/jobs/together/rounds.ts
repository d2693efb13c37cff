/**
 * The requester's side of a round, as decisions over a loss probe: which contributions count, with what
 * weight, the new version, its round patch, and the verdicts the dashboard, receipts and ratings use.
 * The bench (bench:train-net) and the browser requester both drive this class.
 *
 * Order of a round's close: refusals already known (late, bad commitment, malformed, banned) → screening
 * (gauntlet.ts) → new keys loss-tested in full (at most options.maxNewPerRound; the rest are deferred to
 * a later round, neither counted nor refused) → trusted keys counted after screening, a sample of them
 * loss-tested in the background while providers train the next round (scoreBackground): a trusted key
 * whose contribution clearly harmed is refused from that round on — its one contribution already counted
 * at its weight — and one that helped too little loses its trust, so its next contribution is tested in full.
 * A loss test under the bar on its first batches is decided again on a larger draw (RETEST_FACTOR); every
 * test applies the contribution, and the work it is held against, at their share of the round's step.
 */
import type { Batch } from '../../train';
import type { ContributionShape } from './codec';
import type { Contribution } from './compress';
import {
  Gauntlet,
  type GauntletOptions,
  type LossProbe,
  REFUSAL_TEXT,
  type Reference,
  type RefusalReason,
  type Score,
  type Screened,
} from './gauntlet';
import { TogetherError } from './errors';
import {
  MAX_OUTER_LR,
  type OuterOptions,
  outerParams,
  outerStep,
  validateOuter,
  type Version,
  type Weighted,
} from './outer';
import { encodeRoundPatch, type RoundPatch } from './patch';
import { MemoProbe } from './probe';
import { Ratings } from './ratings';

export interface RoundsOptions {
  readonly outer: OuterOptions;
  readonly gauntlet: GauntletOptions;
  /** Validation batches drawn per round for the loss test. */
  readonly validationChecks: number;
  /** Of a provider's H batches, how many the loss test uses. */
  readonly assignedChecks: number;
  readonly maxNewPerRound: number;
  /**
   * The outer step's guard: the requester tries each of these multiples of outer.lr on `batches`
   * validation batches and publishes the version with the lowest loss (the chosen rate is in the round
   * patch, so replay needs no search). Absent: outer.lr every round.
   */
  readonly outerSearch?: OuterSearch;
  /**
   * outer.lr is per counted contribution: a round's rate is outer.lr × the contributions it counts (at most
   * MAX_OUTER_LR). Contributions are averaged and their kept positions seldom coincide, so at a fixed rate
   * each one's values reach the weights at about rate / N: a rate right for 4 volunteers overshoots with
   * one left (the loss test then refused honest work) and undershoots with 8 (bench:train-net's 8-provider
   * case: 1.189 of one worker's loss at 3, 1.152 at 5). Absent: outer.lr is the round's rate (jobs from
   * before this setting).
   */
  readonly outerPerContribution?: boolean;
}

export interface OuterSearch {
  readonly factors: readonly number[];
  readonly batches: number;
}

/** The full rate, then half: bench:train-net's 4-provider case at outer lr 4 spiked at round 4 without it. */
export const OUTER_SEARCH_FACTORS: readonly number[] = [1, 0.5];

/**
 * A loss test under the bar is decided on a fresh draw of this many times its validation batches (all of
 * them where there are fewer). bench:train-net's 4-provider case at 48 rounds × 15 steps refused 13 honest
 * contributions late in the run on two batches each (down to −4.1× the bar, what a sign flip reads).
 */
export const RETEST_FACTOR = 3;

/**
 * A trusted key's sampled test refuses it (instead of taking its trust) when its contribution raised the
 * validation loss by this many bars and the loss on its own assigned batches too (scoreBackground).
 * Measured in bench:train-net: sign flips −3.0 to −5.6 bars; honest sampled tests down to −1.06 (the join
 * case, after the larger draw) and −0.82 (48 rounds × 15 steps); E2E-TOGETHER1 once read −4.8 for an honest
 * key, so the bars alone do not separate them. Either way its next contribution is tested in full before it counts.
 */
export const HARM_BARS = 2;

export interface Entry {
  readonly provider: string;
  readonly baseHash: string;
  /** The revealed bytes (they go into the patch as they are). */
  readonly bytes: Uint8Array;
  readonly contribution: Contribution | null;
  /** A refusal found before the close (late, commitment, malformed). */
  readonly refused?: RefusalReason;
}

export type Status = 'accepted' | 'refused' | 'deferred';

export interface Verdict {
  readonly provider: string;
  readonly round: number;
  readonly status: Status;
  readonly reason: RefusalReason | null;
  readonly weight: number;
  readonly gainV: number | null;
  readonly gainA: number | null;
  readonly gainC: number | null;
  /** Loss-tested: its gain and the bar it had to beat, both per unit of the rate it was applied at. */
  readonly gainPerLr: number | null;
  readonly bar: number | null;
  /** Its gain and the bar per unit of distance it moved the weights (how well it points). */
  readonly gainPerMove: number | null;
  readonly barPerMove: number | null;
  readonly normRatio: number;
  readonly maxCosine: number;
  readonly scored: 'full' | 'sampled' | 'screened' | 'none';
  /** A trusted key's sampled test fell under the bar without clear harm: kept, but the key is tested in full again. */
  readonly weak: boolean;
  /** Its loss test fell under the bar on the first batches and was decided on a larger draw (RETEST_FACTOR). */
  readonly retested: boolean;
  readonly bytes: number;
}

/** A loss test's score, and whether it was decided on a larger draw of batches. */
type Tested = Score & { readonly retested: boolean };

/** What a loss test measured, as a verdict's fields. */
function measured(s: Tested) {
  const { gainV, gainA, gainC, gainPerLr, bar, gainPerMove, barPerMove, retested } = s;
  return { gainV, gainA, gainC, gainPerLr, bar, gainPerMove, barPerMove, retested };
}

/** Why a verdict refused, for people: a loss test's refusal also says what it gained and had to beat. */
export function refusalText(v: Verdict): string {
  if (!v.reason) return '';
  const text = REFUSAL_TEXT[v.reason];
  const [gain, bar, unit] =
    v.reason === 'off-course' ? [v.gainPerMove, v.barPerMove, 'movement'] : [v.gainPerLr, v.bar, 'rate'];
  if (gain === null || bar === null) return text;
  const test = `${v.scored === 'sampled' ? 'sampled test' : 'test'}${v.retested ? ' on a larger draw of batches' : ''}`;
  return `${text} (${test}: ${gain.toPrecision(2)} per unit of ${unit} against a bar of ${bar.toPrecision(2)})`;
}

/** A loss test under one of its bars: decided again on a larger draw, and only weak for a trusted key. */
function underBar(s: Score): boolean {
  return s.refusal === 'no-gain' || s.refusal === 'off-course';
}

/** A counted contribution with its provider and the norm of its values. */
type Work = Weighted & { readonly provider: string; readonly norm: number };

/** Weights a step of other contributions reaches, and the outer rate it was taken at. */
export interface OtherStep {
  readonly params: Float32Array;
  readonly lr: number;
  /** lr × the weighted mean of its contributions' norms: how far one of them moves the weights on average. */
  readonly move: number;
}

/** The batches one loss test reads. */
interface Draw {
  readonly validation: Batch[];
  readonly assigned: Batch[];
  readonly control: Batch[];
}

/** Loss tests drawn before the reveals (TogetherRounds.prepare), and the base's forwards on them. */
interface Prepared {
  readonly round: number;
  readonly draws: Map<string, Draw>;
  readonly done: Promise<number>;
}

/** What a loss test needs besides the batches it draws. */
interface LossTest {
  readonly round: number;
  readonly base: Version;
  readonly screened: Screened;
  /** The round's live providers (the others' batches are the test's control). */
  readonly others: readonly string[];
  /** The rate the contribution is applied alone at: its share of the round's step (shareOf). */
  readonly share: number;
  /** A step to hold it against (its gain per unit of rate on the same batches), built at the same share. */
  readonly next?: OtherStep;
  /** Its batches, drawn before the close's other draws (absent: drawn when it runs). A retest draws afresh. */
  readonly drawn?: Draw;
}

export interface Pending {
  readonly round: number;
  /** The round's other providers (their batches are the loss test's control). */
  readonly others: readonly string[];
  readonly base: Version;
  /**
   * The round's other counted work and the rate the round's step was published at: the test's reference
   * is the step they take without this contribution (built when the test runs, so a pending test holds
   * sparse contributions, not a copy of the weights).
   */
  readonly rest: readonly Work[];
  readonly outer: OuterOptions;
  readonly screened: Screened;
  readonly bytes: number;
}

export interface RoundResult {
  readonly version: Version;
  readonly patch: RoundPatch;
  readonly patchBytes: Uint8Array;
  readonly verdicts: Verdict[];
  /** Trusted contributions sampled for a loss test after the round (scoreBackground). */
  readonly background: Pending[];
  /** Forward passes spent scoring before the version could be published (prepare's not counted). */
  readonly forwards: number;
}

export interface RoundsDeps {
  readonly shape: ContributionShape;
  readonly probe: LossProbe;
  /** The provider's H batches this round. */
  readonly assigned: (provider: string, round: number) => Batch[];
  readonly validation: readonly Batch[];
  /** The requester's own randomness (never seen by providers): which batches and which keys are checked. */
  readonly random: () => number;
}

export class TogetherRounds {
  readonly ratings: Ratings;
  readonly gauntlet: Gauntlet;
  readonly audit: Uint8Array[] = [];
  /** Every loss the round's tests read goes through it, so none is computed twice. */
  private readonly probe: MemoProbe;
  private prepared: Prepared | null = null;

  constructor(
    public version: Version,
    readonly options: RoundsOptions,
    readonly deps: RoundsDeps,
  ) {
    const search = options.outerSearch;
    if (search) {
      if (!(Number.isInteger(search.batches) && search.batches >= 1))
        throw new TogetherError('config', `the outer search needs at least one batch, not ${search.batches}`);
      for (const f of search.factors) validateOuter({ ...options.outer, lr: options.outer.lr * f });
    }
    this.ratings = new Ratings();
    this.probe = new MemoProbe(deps.probe);
    this.gauntlet = new Gauntlet(this.probe, options.gauntlet);
  }

  private pick<T>(xs: readonly T[], k: number): T[] {
    const pool = [...xs];
    const out: T[] = [];
    while (out.length < k && pool.length > 0)
      out.push(pool.splice(Math.floor(this.deps.random() * pool.length), 1)[0]!);
    return out;
  }

  /** The outer step for a round that counts `count` contributions (outerPerContribution). */
  private roundOuter(count: number): OuterOptions {
    const outer = this.options.outer;
    if (!this.options.outerPerContribution) return outer;
    return { ...outer, lr: Math.min(MAX_OUTER_LR, outer.lr * Math.max(1, count)) };
  }

  /**
   * The rate a contribution is applied alone at in its loss test: its share of a step at outer rate `rate`
   * over `count` contributions (equal weights), as it moves the model inside the round's average.
   */
  private static shareOf(rate: number, count: number): number {
    return rate / Math.max(1, count);
  }

  /** A loss test of one screened contribution (`share`, `next`: see LossTest). */
  private async lossTest(t: LossTest): Promise<Tested> {
    const first = await this.testOn(t, this.options.validationChecks);
    const pool = this.deps.validation.length;
    if (!underBar(first) || pool <= this.options.validationChecks) return { ...first, retested: false };
    // Under the bar on a few batches: decided on a fresh draw RETEST_FACTOR times as large. Late in a run
    // the round's gains are small beside how much one batch differs from another, and two batches cannot
    // tell an honest contribution from a harmful one.
    const second = await this.testOn(
      { ...t, drawn: undefined },
      Math.min(pool, RETEST_FACTOR * this.options.validationChecks),
    );
    return { ...second, retested: true };
  }

  /**
   * The batches of one loss test of `provider`: `checks` validation batches, assignedChecks of its round's
   * later half, and as many of the other providers' (`others`) this round as the control.
   */
  private draw(round: number, provider: string, others: readonly string[], checks: number): Draw {
    const validation = this.pick(this.deps.validation, checks);
    const own = this.deps.assigned(provider, round);
    const assigned = this.pick(own.slice(own.length >> 1), this.options.assignedChecks);
    const pool = others.filter((o) => o !== provider).flatMap((o) => this.deps.assigned(o, round));
    return { validation, assigned, control: this.pick(pool, assigned.length) };
  }

  /** New keys in the order the close loss-tests them: those that waited longest first, then in `keys` order. */
  private newKeys(keys: readonly string[]): string[] {
    const waiting = (k: string) => this.ratings.peek(k)?.waiting ?? 0;
    return keys
      .map((k, i) => ({ k, i }))
      .filter(({ k }) => !this.ratings.peek(k)?.banned && !this.ratings.trusted(k))
      .sort((a, b) => waiting(b.k) - waiting(a.k) || a.i - b.i)
      .slice(0, this.options.maxNewPerRound)
      .map(({ k }) => k);
  }

  /**
   * Draws the loss tests of the keys this round will test in full — new keys, at most maxNewPerRound, in
   * the order the close takes them — and runs the current version's forwards on their batches. A requester
   * calls it with the providers it sent the round to, in that order, while they train: the close then runs
   * only the forwards that need the contributions (a new key's test: 4 of its 10 forwards with none of the
   * round's work trusted). The close waits for it, and a close without it draws the same tests first thing,
   * so the result is the same either way when the same keys reveal (TOGETHER-R9). The batches stay the
   * requester's secret until they are read, as before. Resolves to the forwards it ran.
   */
  prepare(providers: readonly string[]): Promise<number> {
    const round = this.version.round;
    const base = this.version.params;
    // The close's control pool is the live keys': a banned key's reveal is refused before it.
    const others = providers.filter((p) => !this.ratings.peek(p)?.banned);
    const draws = new Map<string, Draw>();
    for (const p of this.newKeys(others)) draws.set(p, this.draw(round, p, others, this.options.validationChecks));
    const batches = [...draws.values()].flatMap((d) => [...d.validation, ...d.assigned, ...d.control]);
    // A failed forward here costs only the head start: the close draws and computes what it needs.
    const ran = this.probe.forwards;
    const done = this.probe.losses(base, batches).then(
      () => this.probe.forwards - ran,
      () => {
        this.prepared = null;
        return 0;
      },
    );
    this.prepared = { round, draws, done };
    return done;
  }

  /** One loss test on `checks` validation batches drawn for it. */
  private async testOn(t: LossTest, checks: number): Promise<Score> {
    const { round, base, screened: s, others, share, next } = t;
    const { validation, assigned, control } = t.drawn ?? this.draw(round, s.provider, others, checks);
    const before = await this.gauntlet.baseLosses(base.params, validation);
    // Held against what other work of the round gained per unit of rate on the same batches: gains shrink
    // as training goes on and vary from batch to batch, and a bar kept from earlier rounds refused honest
    // trusted keys late in a run (E2E-TOGETHER1's rounds 8–9).
    let reference: Reference | undefined;
    if (next) {
      const after = await this.probe.losses(next.params, validation);
      const gain = before.reduce((sum, b, i) => sum + b - after[i]!, 0) / before.length;
      reference = { perLr: gain / next.lr, perMove: next.move > 0 ? gain / next.move : 0 };
    }
    // Rounds this key took part in before (accepted or refused): young keys' contributions are still growing.
    const { accepted, refused } = this.ratings.entry(s.provider);
    const score = await this.gauntlet.score(
      base.params,
      share,
      s.contribution,
      validation,
      before,
      assigned,
      control,
      accepted + refused,
      round,
      reference,
    );
    return score;
  }

  /**
   * The step `work` takes inside the round's average, each contribution at `share` of the rate (as the one
   * tested is applied), as a loss test's reference: the round's step without the tested contribution for a
   * sampled key, the trusted work's part of it for a new key. Its gain is counted per contribution and per
   * unit of that share (lr = share × contributions), and its movement per contribution (the weighted mean of
   * their norms, not the mean's norm, which averaging shrinks). Built at the full rate for each
   * contribution instead, with one other volunteer the reference moved twice as far as the round did and
   * could overshoot where the tested share did not.
   */
  private otherStep(base: Version, work: readonly Work[], outer: OuterOptions, share: number): OtherStep | undefined {
    if (work.length === 0) return undefined;
    const lr = share * work.length;
    // Plain SGD even when the job's outer step has momentum: the reference is the others' work this round,
    // not the momentum earlier rounds built up.
    const stepped = outerParams(base, work, { ...outer, lr, momentum: 0 });
    if (!stepped) return undefined;
    const total = work.reduce((sum, w) => sum + w.weight, 0);
    const mean = work.reduce((sum, w) => sum + (w.weight / total) * w.norm, 0);
    return { params: stepped.params, lr, move: lr * mean };
  }

  /** Closes the current round with its reveals, in commit order. */
  async close(entries: readonly Entry[]): Promise<RoundResult> {
    await this.prepared?.done;
    const ran = this.probe.forwards;
    const base = this.version;
    const round = base.round;
    const verdicts: Verdict[] = [];
    const verdict = (e: Entry, v: Partial<Verdict> & Pick<Verdict, 'status'>): Verdict => {
      const out: Verdict = {
        provider: e.provider,
        round,
        reason: null,
        weight: 0,
        gainV: null,
        gainA: null,
        gainC: null,
        gainPerLr: null,
        bar: null,
        gainPerMove: null,
        barPerMove: null,
        normRatio: 0,
        maxCosine: 0,
        scored: 'none',
        weak: false,
        retested: false,
        bytes: e.bytes.length,
        ...v,
      };
      verdicts.push(out);
      return out;
    };
    const live: Entry[] = [];
    for (const e of entries) {
      const banned = this.ratings.entry(e.provider).banned;
      const reason: RefusalReason | undefined = banned
        ? 'banned'
        : (e.refused ?? (e.contribution ? undefined : 'malformed'));
      if (reason) {
        if (!banned) this.ratings.refuse(e.provider);
        verdict(e, { status: 'refused', reason });
      } else live.push(e);
    }
    const screened = this.gauntlet.screen(
      round,
      base.hash,
      live.map((e) => ({ provider: e.provider, baseHash: e.baseHash, contribution: e.contribution! })),
    );
    /** Contributions that count this round, with the bytes the patch carries. */
    const counted: (Work & { readonly bytes: Uint8Array })[] = [];
    const sampled: Omit<Pending, 'rest' | 'outer'>[] = [];
    // New keys queue for the loss test: those that waited longest first, then in commit order.
    const others = live.map((x) => x.provider);
    const testNow = new Set(this.newKeys(live.flatMap((e, i) => (screened[i]!.refusal ? [] : [e.provider]))));
    // Their batches, drawn before anything else this close draws, as prepare would have.
    const draws = this.prepared?.round === round ? this.prepared.draws : new Map<string, Draw>();
    for (const p of testNow)
      if (!draws.has(p)) draws.set(p, this.draw(round, p, others, this.options.validationChecks));
    // New keys are held against what this round's trusted work does on the same batches, when there is
    // any (new keys cannot move that bar); otherwise against the recent median.
    const workOf = (i: number, weight: number): Work => ({
      provider: live[i]!.provider,
      contribution: live[i]!.contribution!,
      weight,
      norm: screened[i]!.sparse.norm,
    });
    const trustedWork = live.flatMap((e, i) =>
      !screened[i]!.refusal && this.ratings.trusted(e.provider) ? [workOf(i, this.ratings.weight(e.provider))] : [],
    );
    // Before the round's step exists: the rate a round of every live contribution would take, shared by
    // them (at least the number that will count, so a share no larger than the step's).
    const outer = this.roundOuter(live.length);
    const share = TogetherRounds.shareOf(outer.lr, live.length);
    const trustedStep = testNow.size > 0 ? this.otherStep(base, trustedWork, outer, share) : undefined;
    for (let i = 0; i < live.length; i++) {
      const e = live[i]!;
      const s = screened[i]!;
      const geo = { normRatio: s.normRatio, maxCosine: s.maxCosine };
      if (s.refusal) {
        this.ratings.refuse(e.provider);
        verdict(e, { status: 'refused', reason: s.refusal, scored: 'screened', ...geo });
        continue;
      }
      const weight = this.ratings.weight(e.provider);
      if (this.ratings.trusted(e.provider)) {
        counted.push({ ...workOf(i, weight), bytes: e.bytes });
        if (this.deps.random() < this.ratings.sampleRate(e.provider))
          sampled.push({ round, others, base, screened: s, bytes: e.bytes.length });
        this.ratings.accept(e.provider);
        verdict(e, { status: 'accepted', weight, scored: 'screened', ...geo });
        continue;
      }
      if (!testNow.has(e.provider)) {
        this.ratings.entry(e.provider).waiting++;
        verdict(e, { status: 'deferred', scored: 'none', ...geo });
        continue;
      }
      this.ratings.entry(e.provider).waiting = 0;
      const score = await this.lossTest({
        round,
        base,
        screened: s,
        others,
        share,
        drawn: draws.get(e.provider),
        ...(trustedStep && { next: trustedStep }),
      });
      const scores = { ...measured(score), scored: 'full' as const, ...geo };
      if (score.refusal) {
        this.ratings.refuse(e.provider);
        verdict(e, { status: 'refused', reason: score.refusal, ...scores });
      } else {
        counted.push({ ...workOf(i, weight), bytes: e.bytes });
        this.ratings.accept(e.provider);
        this.gauntlet.noteAccepted(score.gainPerLr, round, score.gainPerMove);
        verdict(e, { status: 'accepted', weight, ...scores });
      }
    }
    // Canonical order: by provider key, so the patch does not depend on arrival order.
    counted.sort((a, b) => (a.provider < b.provider ? -1 : a.provider > b.provider ? 1 : 0));
    const step = await this.guardedStep(base, counted);
    const version = step.version;
    // Each sampled key is held against the round's step without it: what the others' work did.
    const background = sampled.map((p) => ({
      ...p,
      rest: counted.filter((w) => w.provider !== p.screened.provider),
      outer: step.outer,
    }));
    const patch: RoundPatch = {
      round,
      baseHash: base.hash,
      resultHash: version.hash,
      outer: step.outer,
      entries: counted.map((c) => ({ provider: c.provider, weight: c.weight, bytes: c.bytes })),
    };
    const patchBytes = encodeRoundPatch(patch);
    this.audit.push(patchBytes);
    this.version = version;
    this.prepared = null;
    return { version, patch, patchBytes, verdicts, background, forwards: this.probe.forwards - ran };
  }

  /**
   * The outer step at the rate of outerSearch's factors whose version has the lowest mean loss on a
   * random draw of validation batches (ties: the earlier factor). A step that would blow the loss up —
   * early rounds at a high rate do — is taken at a smaller rate instead of being published.
   */
  private async guardedStep(
    base: Version,
    weighted: readonly Weighted[],
  ): Promise<{ version: Version; outer: OuterOptions }> {
    const search = this.options.outerSearch;
    const outer = this.roundOuter(weighted.length);
    if (!search || search.factors.length < 2 || weighted.length === 0)
      return { version: await outerStep(base, weighted, outer), outer };
    const batches = this.pick(this.deps.validation, search.batches);
    let best: { version: Version; outer: OuterOptions; loss: number } | null = null;
    for (const factor of search.factors) {
      const candidate = { ...outer, lr: outer.lr * factor };
      const version = await outerStep(base, weighted, candidate);
      const losses = await this.probe.losses(version.params, batches);
      const mean = losses.reduce((a, b) => a + b, 0) / losses.length;
      const loss = Number.isFinite(mean) ? mean : Number.POSITIVE_INFINITY;
      if (!best || loss < best.loss) best = { version, outer: candidate, loss };
    }
    return { version: best!.version, outer: best!.outer };
  }

  /** Loss-tests sampled trusted contributions after their round; a failure refuses the key from now on. */
  async scoreBackground(items: readonly Pending[]): Promise<{ verdicts: Verdict[]; forwards: number }> {
    const verdicts: Verdict[] = [];
    const ran = this.probe.forwards;
    for (const p of items) {
      // Both the tested contribution and its reference at their share of the step the round took: at the
      // rate it was published at (the guard may have halved it), over the contributions it counted.
      const share = TogetherRounds.shareOf(p.outer.lr, p.rest.length + 1);
      const next = this.otherStep(p.base, p.rest, p.outer, share);
      const score = await this.lossTest({ ...p, share, ...(next && { next }) });
      // Under the bar is weak, not cheating, for a key with a record — E2E-TOGETHER1 saw honest sampled
      // tests at 0.14 of their round's other work and at −0.31 of the bar (a loss on the two batches) — so
      // the key loses its trust and its next contribution is tested in full before it counts. Harm of at
      // least HARM_BARS bars, per unit of rate or of movement, refuses it, but only where the contribution
      // also raised the loss on the batches it was assigned: honest work lowers the loss on what it trained
      // on, and a sign flip raises it there most. Late in a run the validation batches alone misjudge
      // honest work by that much (E2E-TOGETHER1 in CI: −4.8 bars on the larger draw, round 10 of 10).
      const harm =
        score.gainA < 0 &&
        ((score.bar > 0 && score.gainPerLr <= -HARM_BARS * score.bar) ||
          (score.barPerMove > 0 && score.gainPerMove <= -HARM_BARS * score.barPerMove));
      const weak = underBar(score) && !harm;
      const refusal = weak ? null : score.refusal;
      if (refusal) this.ratings.refuse(p.screened.provider);
      else if (weak) this.ratings.demote(p.screened.provider);
      else this.gauntlet.noteAccepted(score.gainPerLr, p.round, score.gainPerMove);
      verdicts.push({
        provider: p.screened.provider,
        round: p.round,
        status: refusal ? 'refused' : 'accepted',
        reason: refusal,
        weak,
        weight: 0,
        ...measured(score),
        normRatio: p.screened.normRatio,
        maxCosine: p.screened.maxCosine,
        scored: 'sampled',
        bytes: p.bytes,
      });
    }
    return { verdicts, forwards: this.probe.forwards - ran };
  }
}

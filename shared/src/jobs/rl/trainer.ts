/**
 * The trainer's side of a GRAIL-style RL job in one place, driven alike by
 * the browser requester and the bench: open a round (plan prompts and seeds
 * per provider), take claims (precheck at once, the rest wait), and step
 * (verify the waiting claims, score them from the task, one GRPO update,
 * publish the next policy version as a PULSE patch).
 *
 * Precision. The trainer keeps f32 master weights; the published policy is
 * their bf16 rounding, which providers sample from. A step writes that bf16
 * policy into the engine's parameter buffer, runs one forward over every
 * waiting rollout (the pass that verifies the current-version rollouts and
 * gives π_θ for the ratio) and the weighted backward on it — the gradient
 * at the values providers used — then swaps the master weights into the
 * buffer and lets AdamW step them (grpoUpdate's `onto`). The AdamW moments
 * live in the engine buffer across steps. The updated master is read back,
 * rounded, and published; the buffer is left holding the new policy.
 *
 * Batch. The engine's batch has rows = maxProviders × promptsPerProvider ×
 * samples: one round of work. Rollouts of older versions (lag 1..2) share
 * it; when more claims wait than fit, the oldest are stepped first and the
 * rest wait for the next step (where a claim that has fallen MAX_VERSION_LAG
 * behind is refused as stale). Three rounds' worth of rows would triple
 * every forward for a case that only a provider's backlog creates.
 *
 * Verification. Rollouts of the current version are checked on the shared
 * forward. Those of an older version need that version's forward: a
 * one-row backend per claim (extra work, counted in verifySeconds). A key
 * is fully checked until it has AUDIT_TRUST_AFTER accepted rollouts, then on
 * a hashed sample (audit.ts); an unchecked rollout is trained on with its
 * claimed log-probabilities and costs no extra forward.
 */
import { type AdamWHyper, arenaFor, type GptConfig, toBf16, fromBf16, WasmBackend } from '../../train';
import { greedyAccuracy } from './accuracy';
import { chosenForAudit, type KeyRecord, recordVerdict } from './audit';
import { MAX_VERSION_LAG } from './constants';
import { RlError } from './errors';
import { forwardRollouts, grpoUpdate, type TrainingRollout } from './grpo-step';
import { encodePolicyPatch, type PolicyVersion, policyFromBf16 } from './policy-version';
import { planRound, type RoundPlan, scoreAccepted } from './round';
import { type ForcedPass, teacherForce } from './runner';
import { exactMatchReward, type TaskSet } from './tasks';
import { type Assignment, checkRecomputed, precheckRollout, type RefuseReason, type RolloutClaim } from './verify';
import { decodeIds, VOCAB_SIZE } from './vocab';

/** WasmBackend's options (threads and their spawn function in a tab). */
export type WasmOptions = NonNullable<Parameters<typeof WasmBackend.create>[1]>;

export interface RlTrainerOptions {
  readonly task: TaskSet;
  /** kind 'gpt', vocab VOCAB_SIZE. */
  readonly config: GptConfig;
  readonly promptsPerProvider: number;
  /** G, completions per prompt. */
  readonly samples: number;
  readonly maxNew: number;
  readonly temperature: number;
  /** GRPO's AdamW (lr etc.). */
  readonly hp: AdamWHyper;
  /** Sizes the trainer's batch: rows = maxProviders × promptsPerProvider × samples (one round; see above). */
  readonly maxProviders: number;
  /** Held-out prompts for accuracy (≤ the task's eval set). */
  readonly evalSize: number;
  /** Source of the round and audit nonces (crypto in the browser, seeded in bench/tests). */
  readonly random: () => number;
  /** The WASM backends' options (threads in a browser). */
  readonly wasm?: WasmOptions;
  /**
   * GRPO updates per step on the step's rollouts (PPO's epochs, default 1). The first reuses the verifying
   * forward; each later one runs a new forward on the updated master, so its ratios move off 1 and the clip
   * bounds how far the step goes.
   */
  readonly updatesPerStep?: number;
}

export interface RolloutVerdict {
  readonly providerKey: string;
  readonly round: number;
  readonly promptIndex: number;
  readonly sample: number;
  readonly ok: boolean;
  readonly reason?: RefuseReason;
  readonly detail?: string;
  /** Accepted ones: computed by the trainer from the task. */
  readonly reward?: number;
  readonly lag?: number;
  /** The full check ran (sketch + replay + log-probs); false: passed on the audit sample, or refused before it. */
  readonly checked: boolean;
  /** decodeIds(completion), for the dashboard's sample rollouts. */
  readonly completionText?: string;
  /** Fully checked and accepted: tokens let through only by the CDF boundary slack, and the largest log-prob gap. */
  readonly boundaryTokens?: number;
  readonly logprobGap?: number;
}

export interface RlStepResult {
  /** The new published version (version = previous + 1). */
  readonly policy: PolicyVersion;
  /** PULSE patch previous → policy (encodePolicyPatch). */
  readonly patch: Uint8Array;
  /** Every claim judged in this step. */
  readonly verdicts: readonly RolloutVerdict[];
  /** Over accepted rollouts of this step. */
  readonly meanReward: number | null;
  readonly accepted: number;
  readonly refused: number;
  readonly clippedFraction: number;
  /** Trainer time spent only on verification (lagged versions' forwards, sketch/replay/log-prob checks). */
  readonly verifySeconds: number;
  /** The rest of the step (shared forward, update, publishing, patch). */
  readonly trainSeconds: number;
}

/**
 * What a reload needs beyond the master weights to go on as if it never happened: AdamW's moments and
 * step (restarting them makes the next updates sign-sized in every weight), where the prompt stream is
 * (restarting it deals the first prompts again) and the next round's number.
 */
export interface RlTrainerState {
  readonly t: number;
  readonly nextIndex: number;
  readonly nextRound: number;
  readonly m: Float32Array;
  readonly v: Float32Array;
}

interface OpenedRound {
  readonly plan: RoundPlan;
  /** Rollout hashes submitted (replays). */
  readonly seen: Set<string>;
  /** (key, prompt index, sample) slots claimed: one rollout each, under whatever version. */
  readonly slots: Set<string>;
}

interface Waiting {
  readonly claim: RolloutClaim;
  readonly hash: string;
}

function hexNonce(random: () => number): string {
  let s = '';
  for (let i = 0; i < 4; i++)
    s += Math.floor(random() * 2 ** 32)
      .toString(16)
      .padStart(8, '0');
  return s;
}

function now(): number {
  return performance.now() / 1000;
}

function slotOf(c: RolloutClaim): string {
  return `${c.providerKey}\u0000${c.promptIndex}\u0000${c.sample}`;
}

function refusal(c: RolloutClaim, reason: RefuseReason, detail: string, lag?: number): RolloutVerdict {
  return {
    providerKey: c.providerKey,
    round: c.round,
    promptIndex: c.promptIndex,
    sample: c.sample,
    ok: false,
    reason,
    detail,
    ...(lag === undefined ? {} : { lag }),
    checked: false,
    completionText: decodeIds(c.completion),
  };
}

export class RlTrainer {
  private readonly rounds = new Map<number, OpenedRound>();
  private readonly versions = new Map<number, PolicyVersion>();
  private readonly records = new Map<string, KeyRecord>();
  private waiting: Waiting[] = [];
  private nextRound = 1;
  private nextIndex = 0;
  /** AdamW's step counter (bias correction). */
  private t = 0;
  private stepping = false;
  private verifierHolds: number | null = null;
  private current: PolicyVersion;
  private masterWeights: Float32Array;
  readonly rows: number;

  private constructor(
    readonly options: RlTrainerOptions,
    master: Float32Array,
    first: PolicyVersion,
    /** The batch of rows: GRPO's forward and update. */
    private readonly main: WasmBackend,
    /** One row: the forwards of older versions, and held-out evaluation. */
    private readonly verifier: WasmBackend,
  ) {
    this.masterWeights = master;
    this.current = first;
    this.versions.set(first.version, first);
    this.rows = main.arena.B;
  }

  static async create(
    options: RlTrainerOptions,
    master: Float32Array,
    version = 0,
    state?: RlTrainerState,
  ): Promise<RlTrainer> {
    const c = options.config;
    if (c.kind !== 'gpt' || c.vocab !== VOCAB_SIZE)
      throw new RlError('config', `a policy is a GPT over the ${VOCAB_SIZE}-id vocabulary`);
    // GRPO's ratio compares the sampled log-probs with π_θ at temperature 1 (grpo.ts): other temperatures would
    // bias every update without any check failing.
    if (options.temperature !== 1)
      throw new RlError('config', `RL rollouts are sampled at temperature 1, not ${options.temperature}`);
    for (const k of ['promptsPerProvider', 'samples', 'maxNew', 'maxProviders', 'updatesPerStep'] as const)
      if (!Number.isInteger(options[k] ?? 1) || (options[k] ?? 1) < 1)
        throw new RlError('config', `${k} must be a positive integer`);
    if (options.evalSize > options.task.eval.length)
      throw new RlError(
        'config',
        `evalSize ${options.evalSize} > the task's ${options.task.eval.length} held-out prompts`,
      );
    const rows = options.maxProviders * options.promptsPerProvider * options.samples;
    const main = await WasmBackend.create(arenaFor(c, rows, c.context), options.wasm);
    const verifier = await WasmBackend.create(arenaFor(c, 1, c.context), options.wasm);
    if (master.length !== main.arena.params.size)
      throw new RlError('config', `${master.length} master weights for a model of ${main.arena.params.size}`);
    const copy = Float32Array.from(master);
    const first = await policyFromBf16(version, toBf16(copy));
    main.writeFloats(main.arena.paramsAt, first.params);
    const trainer = new RlTrainer(options, copy, first, main, verifier);
    if (state) trainer.restoreState(state);
    return trainer;
  }

  /** The optimizer's moments and step and the prompt stream's position (see RlTrainerState). */
  exportState(): RlTrainerState {
    const a = this.main.arena;
    const n = a.params.size;
    return {
      t: this.t,
      nextIndex: this.nextIndex,
      nextRound: this.nextRound,
      m: Float32Array.from(this.main.readFloats(a.mAt, n)),
      v: Float32Array.from(this.main.readFloats(a.vAt, n)),
    };
  }

  private restoreState(s: RlTrainerState): void {
    const a = this.main.arena;
    const n = a.params.size;
    const ok =
      Number.isInteger(s.t) &&
      s.t >= 0 &&
      Number.isInteger(s.nextIndex) &&
      s.nextIndex >= 0 &&
      Number.isInteger(s.nextRound) &&
      s.nextRound >= 1 &&
      s.m.length === n &&
      s.v.length === n &&
      s.m.every(Number.isFinite) &&
      s.v.every((x) => Number.isFinite(x) && x >= 0);
    if (!ok) throw new RlError('config', 'the saved optimizer state does not fit this policy');
    this.t = s.t;
    this.nextIndex = s.nextIndex;
    this.nextRound = s.nextRound;
    this.main.writeFloats(a.mAt, s.m);
    this.main.writeFloats(a.vAt, s.v);
  }

  /** The current published version. */
  get policy(): PolicyVersion {
    return this.current;
  }

  /** The last MAX_VERSION_LAG + 1 versions are kept (the ones a claim may be sampled from). */
  policyAt(version: number): PolicyVersion | undefined {
    return this.versions.get(version);
  }

  /** A copy of the f32 master weights (a checkpoint). */
  get master(): Float32Array {
    return Float32Array.from(this.masterWeights);
  }

  /** Accepted rollouts since each key's last refusal (the audit's record). */
  recordOf(providerKey: string): KeyRecord {
    return this.records.get(providerKey) ?? { accepted: 0 };
  }

  /** Claims submitted and not yet judged. */
  get pending(): number {
    return this.waiting.length;
  }

  openRound(providerKeys: readonly string[]): {
    round: number;
    roundNonce: string;
    assignments: ReadonlyMap<string, Assignment>;
  } {
    if (new Set(providerKeys).size !== providerKeys.length) throw new RlError('config', 'a key appears twice');
    if (providerKeys.length > this.options.maxProviders)
      throw new RlError('config', `${providerKeys.length} providers > maxProviders ${this.options.maxProviders}`);
    const o = this.options;
    const round = this.nextRound++;
    const roundNonce = hexNonce(o.random);
    const plan = planRound(
      o.task,
      {
        round,
        roundNonce,
        promptsPerProvider: o.promptsPerProvider,
        samples: o.samples,
        maxNew: o.maxNew,
        temperature: o.temperature,
      },
      providerKeys,
      this.nextIndex,
    );
    this.nextIndex = plan.nextIndex;
    this.rounds.set(round, { plan, seen: new Set(), slots: new Set() });
    // Claims of a round are taken while its versions can still be inside the lag window.
    this.rounds.delete(round - (MAX_VERSION_LAG + 1));
    return { round, roundNonce, assignments: plan.assignments };
  }

  /** Immediate refusals (precheck); the other claims wait for step(). */
  submit(claims: readonly RolloutClaim[]): RolloutVerdict[] {
    const verdicts: RolloutVerdict[] = [];
    const shape = this.options.config;
    for (const c of claims) {
      const opened = this.rounds.get(c.round);
      const a = opened?.plan.assignments.get(c.providerKey);
      if (!opened || !a) {
        verdicts.push(refusal(c, 'not-assigned', `no open round ${c.round} for this key`));
        continue;
      }
      const pre = precheckRollout(c, a, this.current.version, opened.seen, shape);
      if (!pre.ok) {
        verdicts.push(refusal(c, pre.reason, pre.detail));
        continue;
      }
      opened.seen.add(pre.hash);
      const slot = slotOf(c);
      if (opened.slots.has(slot)) {
        verdicts.push(refusal(c, 'replay', `prompt ${c.promptIndex} sample ${c.sample} was already claimed`, pre.lag));
        continue;
      }
      opened.slots.add(slot);
      this.waiting.push({ claim: c, hash: pre.hash });
    }
    return verdicts;
  }

  async step(): Promise<RlStepResult> {
    if (this.stepping) throw new RlError('config', 'a step is already running');
    this.stepping = true;
    try {
      return await this.runStep();
    } finally {
      this.stepping = false;
    }
  }

  private async runStep(): Promise<RlStepResult> {
    const start = now();
    let verifySeconds = 0;
    const o = this.options;
    const C = o.config;
    const version = this.current.version;
    const verdicts: RolloutVerdict[] = [];

    // Oldest first; whatever does not fit waits for the next step.
    const taken: (Waiting & { lag: number; plan: RoundPlan })[] = [];
    const rest: Waiting[] = [];
    for (const w of this.waiting) {
      const lag = version - w.claim.version;
      const opened = this.rounds.get(w.claim.round);
      if (lag > MAX_VERSION_LAG)
        verdicts.push(refusal(w.claim, 'stale-version', `version ${w.claim.version} is ${lag} behind ${version}`, lag));
      else if (!opened) verdicts.push(refusal(w.claim, 'not-assigned', `round ${w.claim.round} has closed`, lag));
      else if (taken.length < this.rows) taken.push({ ...w, lag, plan: opened.plan });
      else rest.push(w);
    }
    this.waiting = rest;

    let clippedFraction = 0;
    const accepted: typeof taken = [];
    if (taken.length > 0) {
      // The one forward on the current policy (the buffer holds it between steps).
      const f = forwardRollouts(
        this.main,
        taken.map((w) => w.claim),
      );
      const auditNonce = hexNonce(o.random);
      taken.forEach((w, i) => {
        const record = this.recordOf(w.claim.providerKey);
        const full = chosenForAudit(record, auditNonce, w.hash);
        let measured = {};
        if (full) {
          const t0 = now();
          const pass = w.lag === 0 ? f.passes[i]! : this.olderPass(w.claim);
          const v = checkRecomputed(
            w.claim,
            { ok: true, hash: w.hash, lag: w.lag },
            pass,
            C,
            o.temperature,
            auditNonce,
          );
          verifySeconds += now() - t0;
          this.records.set(w.claim.providerKey, recordVerdict(record, v.ok));
          if (!v.ok) {
            verdicts.push({ ...refusal(w.claim, v.reason, v.detail, w.lag), checked: true });
            return;
          }
          measured = { boundaryTokens: v.boundaryTokens, logprobGap: v.logprobGap };
        } else this.records.set(w.claim.providerKey, recordVerdict(record, true));
        accepted.push(w);
        const example = w.plan.examples.get(w.claim.promptIndex)!;
        const text = decodeIds(w.claim.completion);
        verdicts.push({
          providerKey: w.claim.providerKey,
          round: w.claim.round,
          promptIndex: w.claim.promptIndex,
          sample: w.claim.sample,
          ok: true,
          reward: exactMatchReward(example, text),
          lag: w.lag,
          checked: full,
          completionText: text,
          ...measured,
        });
      });

      // Rewards from the task, groups per (round, key, prompt); rows are the claims' rows in the forward.
      const rowOf = new Map(taken.map((w, i) => [w.claim, i]));
      const rollouts: TrainingRollout[] = [];
      const rows: number[] = [];
      for (const opened of this.rounds.values()) {
        const mine = accepted.filter((w) => w.plan === opened.plan).map((w) => w.claim);
        if (mine.length === 0) continue;
        const scored = scoreAccepted(opened.plan, mine);
        rollouts.push(...scored.rollouts);
        rows.push(...scored.sources.map((c) => rowOf.get(c)!));
      }
      if (rollouts.length > 0) {
        // The first update reuses the verifying forward (on the bf16 policy); each later one forwards the master.
        for (let u = 0; u < (o.updatesPerStep ?? 1); u++) {
          const logprobs =
            u === 0
              ? f.newLogprobs
              : forwardRollouts(
                  this.main,
                  taken.map((w) => w.claim),
                ).newLogprobs;
          const step = grpoUpdate(
            this.main,
            rollouts,
            rows,
            rows.map((r) => logprobs[r]!),
            o.hp,
            ++this.t,
            undefined,
            this.masterWeights,
          );
          clippedFraction = step.clippedFraction;
          this.masterWeights = Float32Array.from(
            this.main.readFloats(this.main.arena.paramsAt, this.masterWeights.length),
          );
        }
      }
    }

    // Publish from the master; the buffer holds the policy again before anything awaits.
    const bf16 = toBf16(this.masterWeights);
    this.main.writeFloats(this.main.arena.paramsAt, fromBf16(bf16));
    const prev = this.current;
    this.current = await policyFromBf16(version + 1, bf16);
    this.versions.set(this.current.version, this.current);
    this.versions.delete(this.current.version - (MAX_VERSION_LAG + 1));
    const patch = await encodePolicyPatch(prev, this.current);

    const rewards = verdicts.filter((v) => v.ok).map((v) => v.reward!);
    return {
      policy: this.current,
      patch,
      verdicts,
      meanReward: rewards.length > 0 ? rewards.reduce((s, r) => s + r, 0) / rewards.length : null,
      accepted: rewards.length,
      refused: verdicts.length - rewards.length,
      clippedFraction,
      verifySeconds,
      trainSeconds: now() - start - verifySeconds,
    };
  }

  /** The forward of an older version over one claim (one-row backend; it keeps a version's weights until another is needed). */
  private olderPass(c: RolloutClaim): ForcedPass {
    const p = this.versions.get(c.version);
    if (!p) throw new RlError('policy', `version ${c.version} is no longer kept`);
    this.hold(p);
    return teacherForce(this.verifier, [...c.prompt, ...c.completion]);
  }

  /**
   * Held-out greedy accuracy (exact match) of the current policy, 0..1, on the first n held-out prompts, decoded
   * incrementally on the one-row backend (a prompt's forward, then one position a token, instead of the whole
   * batch's forward a token).
   */
  evaluate(n = this.options.evalSize): number {
    this.hold(this.current);
    return greedyAccuracy(this.verifier, this.options.task.eval.slice(0, n), this.options.maxNew);
  }

  /** Puts a version's weights in the one-row backend (kept there until another is needed). */
  private hold(p: PolicyVersion): void {
    if (this.verifierHolds === p.version) return;
    this.verifier.writeFloats(this.verifier.arena.paramsAt, p.params);
    this.verifierHolds = p.version;
  }

  dispose(): void {
    this.main.dispose();
    this.verifier.dispose();
  }
}

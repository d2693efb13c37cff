/**
 * One training job's loop, the same in a Web Worker, in Node and in tests: draw a batch, step (skipping
 * non-finite losses), evaluate, sample and checkpoint on the spec's cadence, and report each as an event.
 * Pause, resume and cancel take effect between steps. Everything that decides a step's numbers (weights,
 * moments, step, loader position, tokenizer) is in the checkpoint, so a run resumed from one continues
 * bit-identically on the same backend.
 */
import {
  ADAMW_DEFAULTS,
  type AdamWHyper,
  type GptConfig,
  newTrainState,
  TokenLoader,
  Tokenizer,
  TrainDataError,
  type TrainState,
} from '../../train';
import {
  type Checkpoint,
  type CheckpointRecord,
  checkpointRecord,
  emptyHistory,
  MAX_SAMPLES_KEPT,
  type TrainHistory,
} from './checkpoint';
import type { TrainEngine } from './engine';
import type { GreedySampler } from './sample';
import { learningRate } from './schedule';
import type { TrainSpec } from './spec';

/** Held out from the end of the token stream for validation. */
export const VALIDATION_SHARE = 0.1;
/** This many non-finite losses in a row stop the job: the run has diverged, skipping will not save it. */
export const MAX_CONSECUTIVE_NONFINITE = 3;
/** Tokens/s is smoothed over about this many steps, so one slow step (a GC, a checkpoint) does not jump the ETA. */
const SPEED_SMOOTHING = 0.1;

export type TrainEvent =
  | { type: 'step'; step: number; loss: number; lr: number; tokensPerS: number; etaS: number }
  | { type: 'skipped'; step: number; loss: number; message: string }
  | { type: 'eval'; step: number; valLoss: number }
  | { type: 'sample'; step: number; text: string }
  /** `valLoss` is the validation loss of exactly the record's weights (a remote requester recomputes it). */
  | { type: 'checkpoint'; step: number; record: CheckpointRecord; valLoss?: number }
  /** The loop holds between steps; the record lets a paused job survive a reload without losing steps. */
  | { type: 'paused'; step: number; record: CheckpointRecord; valLoss?: number }
  | { type: 'resumed'; step: number }
  | { type: 'done'; step: number; record: CheckpointRecord; valLoss?: number }
  | { type: 'failed'; step: number; message: string }
  | { type: 'cancelled'; step: number };

export interface TrainData {
  readonly tokenizer: Tokenizer;
  readonly tokens: Int32Array;
}

/** The corpus as token ids: with the checkpoint's tokenizer when resuming, else one learned on the corpus. */
export function prepareData(config: GptConfig, text: string, tokenizer?: Tokenizer): TrainData {
  const tok = tokenizer ?? Tokenizer.train(text, config.vocab);
  const tokens = tok.encode(text);
  // Validation needs at least one window and training at least one batch's worth.
  if (tokens.length < 4 * (config.context + 1))
    throw new TrainDataError(
      `the corpus makes only ${tokens.length} tokens; it needs at least ${4 * (config.context + 1)} for a context of ${config.context}: upload more text`,
    );
  return { tokenizer: tok, tokens };
}

export function hyperFor(spec: TrainSpec): AdamWHyper {
  return { ...ADAMW_DEFAULTS, lr: spec.lr.peak, weightDecay: spec.weightDecay };
}

export interface SessionDeps {
  readonly engine: TrainEngine;
  readonly sampler: GreedySampler | null;
  readonly data: TrainData;
  readonly emit: (e: TrainEvent) => void;
  /** Milliseconds, monotonic. */
  readonly now: () => number;
  /** Lets messages (pause, cancel) in between steps. */
  readonly yieldNow: () => Promise<void>;
}

export class TrainSession {
  readonly state: TrainState;
  readonly history: TrainHistory;
  private readonly loader: TokenLoader;
  private readonly valBatches: number;
  private paused = false;
  private cancelled = false;
  private wake: (() => void) | null = null;
  private tokensPerS = 0;
  /** The last validation loss and its step: a checkpoint at that step reuses it rather than evaluating twice. */
  private lastEval: { step: number; valLoss: number } | null = null;

  constructor(
    readonly spec: TrainSpec,
    private readonly deps: SessionDeps,
    from?: Checkpoint,
  ) {
    this.state = from?.state ?? newTrainState(spec.model, hyperFor(spec), spec.seed);
    this.history = from ? structuredClone(from.history) : emptyHistory();
    const T = spec.model.context;
    this.loader = new TokenLoader(
      deps.data.tokens,
      spec.model,
      T,
      { seed: spec.seed, validationShare: VALIDATION_SHARE, shard: 0, shards: 1 },
      this.state.loader,
    );
    let n = 0;
    while (n < spec.evalBatches && this.loader.validation(spec.batch, n) !== null) n++;
    if (n === 0)
      throw new TrainDataError(
        `the corpus's validation split holds fewer than ${spec.batch} windows of ${T} tokens: upload more text or lower the batch`,
      );
    this.valBatches = n;
  }

  get step(): number {
    return this.state.step;
  }

  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    this.wake?.();
  }
  cancel(): void {
    this.cancelled = true;
    this.wake?.();
  }

  async validationLoss(): Promise<number> {
    let sum = 0;
    for (let k = 0; k < this.valBatches; k++)
      sum += await this.deps.engine.evalLoss(this.loader.validation(this.spec.batch, k)!);
    return sum / this.valBatches;
  }

  async record(): Promise<CheckpointRecord> {
    await this.deps.engine.save(this.state);
    this.state.loader = this.loader.position;
    return checkpointRecord(this.state, this.deps.data.tokenizer.toJSON(), this.history, Date.now());
  }

  private async sample(): Promise<string> {
    const s = this.deps.sampler;
    if (s === null) return '';
    s.setParams(await this.deps.engine.params());
    return s.continueText(this.deps.data.tokenizer, this.spec.samplePrompt, this.spec.sampleTokens);
  }

  /** Runs to the spec's last step, or until cancelled or failed. Never throws: failures become events. */
  async run(): Promise<void> {
    const { engine, emit, now, yieldNow } = this.deps;
    const spec = this.spec;
    const tokensPerStep = spec.batch * spec.model.context;
    let consecutive = 0;
    try {
      await engine.load(this.state);
      if (this.state.step === 0 && this.history.val.length === 0) await this.evaluate();
      while (this.state.step < spec.steps) {
        await yieldNow();
        if (this.paused && !this.cancelled) {
          emit({
            type: 'paused',
            step: this.state.step,
            record: await this.record(),
            valLoss: await this.valLossNow(),
          });
          while (this.paused && !this.cancelled) await new Promise<void>((r) => (this.wake = r));
          if (!this.cancelled) emit({ type: 'resumed', step: this.state.step });
        }
        if (this.cancelled) {
          emit({ type: 'cancelled', step: this.state.step });
          return;
        }
        const t = this.state.step + 1;
        const lr = learningRate(spec.lr, t, spec.steps);
        const t0 = now();
        const r = await engine.step(this.loader.next(spec.batch), { ...this.state.hyper, lr }, t);
        const ms = Math.max(1e-3, now() - t0);
        if (!r.applied) {
          consecutive++;
          this.history.skipped++;
          const message =
            consecutive >= MAX_CONSECUTIVE_NONFINITE
              ? `${consecutive} non-finite losses in a row: the run diverged. Lower the learning rate or resume from an earlier checkpoint`
              : `the loss at step ${t} was ${r.loss}: the step was skipped and the weights kept`;
          emit({ type: 'skipped', step: t, loss: r.loss, message });
          if (consecutive >= MAX_CONSECUTIVE_NONFINITE) {
            emit({ type: 'failed', step: this.state.step, message });
            return;
          }
          continue;
        }
        consecutive = 0;
        this.state.step = t;
        const speed = (tokensPerStep * 1000) / ms;
        this.tokensPerS = this.tokensPerS === 0 ? speed : this.tokensPerS + SPEED_SMOOTHING * (speed - this.tokensPerS);
        this.history.train.push([t, r.loss]);
        this.history.speed.push([t, this.tokensPerS]);
        const etaS = ((spec.steps - t) * tokensPerStep) / this.tokensPerS;
        emit({ type: 'step', step: t, loss: r.loss, lr, tokensPerS: this.tokensPerS, etaS });
        if (t % spec.evalEvery === 0 || t === spec.steps) await this.evaluate();
        if (t % spec.sampleEvery === 0 || t === spec.steps) {
          const text = await this.sample();
          this.history.samples.push({ step: t, text });
          if (this.history.samples.length > MAX_SAMPLES_KEPT) this.history.samples.shift();
          emit({ type: 'sample', step: t, text });
        }
        if (t % spec.checkpointEvery === 0 && t < spec.steps)
          emit({ type: 'checkpoint', step: t, record: await this.record(), valLoss: await this.valLossNow() });
      }
      emit({ type: 'done', step: this.state.step, record: await this.record(), valLoss: await this.valLossNow() });
    } catch (e) {
      emit({ type: 'failed', step: this.state.step, message: e instanceof Error ? e.message : String(e) });
    }
  }

  /** The validation loss of the current weights, evaluated only if this step has none yet. */
  private async valLossNow(): Promise<number> {
    if (this.lastEval?.step !== this.state.step)
      this.lastEval = { step: this.state.step, valLoss: await this.validationLoss() };
    return this.lastEval.valLoss;
  }

  private async evaluate(): Promise<void> {
    const valLoss = await this.validationLoss();
    this.lastEval = { step: this.state.step, valLoss };
    if (Number.isFinite(valLoss)) this.history.val.push([this.state.step, valLoss]);
    this.deps.emit({ type: 'eval', step: this.state.step, valLoss });
  }
}

/**
 * npm run bench:rl — GRAIL in the browser (issue 22) in one seeded Node process: the real engine (WASM),
 * real PULSE patches between policy versions, the shipped RlTrainer, rollOut and cheatClaims, with several
 * providers simulated in-process (each its own key and one-row backend).
 *   --quick      fewer steps (≤ 10 minutes on 2 cores)
 *   --json       one JSON object per case on stdout
 *   --cases a,b  only these cases (addition-3digit, grail-regime, adversaries)
 *   --rl-lr x    GRPO's learning rate in addition-3digit and adversaries
 *   --rl-steps n, --rl-prompts n, --rl-samples n  addition-3digit's GRPO steps, prompts per provider and G
 *   --addition-preset tiny@width64  the tiny preset's shape at width 64 in addition-3digit (default: tiny)
 *   --warmup-lr, --warmup-steps, --warmup-target lo,hi, --grail-lrs a,b, --seed n (default 2222)
 * Cases: addition-3digit (warm up to 20–50% held-out accuracy, then GRPO; goal: +0.30), grail-regime (the
 * small preset at GRAIL's lr and below it, where ~99% of bf16 values stay unchanged a step; goal: median patch
 * ≥ 100× under the bf16 model, within 15% of its bound),
 * adversaries (one cheat of each RL_ADVERSARY_KINDS beside honest providers, one of which delivers every
 * round a step late, so its rollouts are checked and trained on at lag 1; goal: all caught, no honest refusal).
 * verifyCostRatio = the trainer's verification-only seconds (older versions' forwards, sketch, replay and
 * log-prob checks) / the honest providers' generation seconds, both measured here one at a time (in the
 * adversaries case the trainer also verifies the cheats' claims, which no honest generation pays for).
 * patchBoundBytes: bench/pulse/bound.ts's entropy bound between consecutive bf16 policies (median);
 * patchConditionalBoundBytes: the same given each old value's exponent (what PULSE's conditioned kind codes
 * with, so the honest bound for it); patchOverBoundMax and patchOverConditionalBoundMax: the worst step's
 * patch / its bound. Providers
 * hold the version the last patch built; the patch is applied once per step (every provider would compute
 * the same bytes) and its hash checked against the trainer's.
 */
import {
  ADDITION_3,
  applyPolicyPatch,
  encodePolicyPatch,
  cheatClaims,
  maxAnswerTokens,
  type PolicyVersion,
  policyModel,
  RL_ADVERSARY_KINDS,
  type RlAdversaryKind,
  type RlStepResult,
  RlTrainer,
  type RolloutClaim,
  type RolloutVerdict,
  rollOut,
  type TaskSet,
  taskSet,
  VOCAB_SIZE,
  warmUp,
} from '@shared/jobs/rl';
import { mulberry32 } from '@shared/random';
import { ADAMW_DEFAULTS, arenaFor, type GptConfig, newTrainState, PRESETS, WasmBackend } from '@shared/train';
import { boundBytes, conditionalBoundBytes } from './pulse/bound';
import { flag, opt } from './lib/args';

const QUICK = flag('quick');
const JSON_OUT = flag('json');
const CASES = new Set(opt('cases', 'addition-3digit,grail-regime,adversaries').split(','));
/** Every seed of the run (tasks, init, warm-up, nonces); --seed to check a figure is not one seed's luck. */
const SEED = Number(opt('seed', '2222'));
/** GRPO's AdamW lr on the warmed-up addition policy. */
const RL_LR = Number(opt('rl-lr', '5e-4'));
/** GRPO updates per step (PPO's epochs) in addition-3digit and adversaries. */
const RL_UPDATES = Number(opt('rl-updates', '1'));

const log = (s: string) => {
  if (!JSON_OUT) console.log(s);
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? 0 : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
/** The largest patch / bound over the steps (a step whose bound is 0 is left out). */
const worstRatio = (patches: number[], bounds: number[]): number | null => {
  const ratios = patches.flatMap((p, i) => (bounds[i]! > 0 ? [p / bounds[i]!] : []));
  return ratios.length > 0 ? Math.max(...ratios) : null;
};
const seconds = () => performance.now() / 1000;

/** 3-digit addition: the prompt (8) plus the answer and EOS (5) fit 16 positions. */
const CONTEXT = 16;
/**
 * addition-3digit runs the tiny preset (issue 22: "the tiny or small preset"), vocabulary VOCAB_SIZE, context 16,
 * warmed to 0.45–0.5 held-out accuracy, then GRPO at lr 5e-4 with 32 prompts × G 8 a provider (1,024 rollouts a
 * step). Held-out accuracy on 200 prompts, warm-up → after GRPO, over three seeds (--seed), at 9c0c32e+:
 *   --quick, 100 steps: 2222 0.460 → 0.790 (+0.330), 1 0.455 → 0.695 (+0.240), 7 0.470 → 0.720 (+0.250);
 *   lr 1e-3, 100 steps: 1 0.455 → 0.630 (+0.175), 7 0.470 → 0.725 (+0.255);
 *   full, 200 steps: 1 0.455 → 0.710 (+0.255, 0.750 at its best evaluation), 7 0.470 → 0.770 (+0.300);
 *   the same rollouts a step as G 16 × 16 prompts: 1 +0.165, 7 +0.215; as G 4 × 64: 1 +0.200, 7 +0.220;
 * and before (width 64 unless said; tiny's runs took 9.5 min before rollouts decoded incrementally):
 *   width 64, lr 3e-4, 8 prompts × G 8 a provider, warm-up to 0.2–0.5, 40 steps: 2222 +0.375, 1 +0.065, 7 +0.130;
 *   the same warmed to 0.45–0.5 with 32 prompts a provider, 100 steps: 2222 0.495 → 0.985, 1 +0.385, 7 +0.185;
 *   tiny, 8 prompts a provider, 150 steps: lr 3e-4 2222 +0.290; lr 5e-4 2222 +0.340, 7 +0.205, 1 +0.155; two
 *     GRPO updates a step (--rl-updates 2, lr 3e-4) 2222 +0.305; three, 40 steps, +0.230 against +0.200 for one;
 *     G 16 × 4 prompts no better than G 8 × 8; a lower start plateaus lower (0.285 → 0.440, 0.385 → 0.545).
 * GRPO here sharpens what the warmed policy already samples: gains follow the start point and the seed, and
 * seeds 1 and 7 level off near 0.70 where 2222 reaches 0.79.
 * Rollouts are sampled at temperature 1 (the trainer refuses others: GRPO's ratio is at τ = 1) and with one
 * update a step no ratio is clipped (every rollout is of the current version); there is no KL term.
 */
const TINY_CONFIG: GptConfig = { ...PRESETS.tiny, vocab: VOCAB_SIZE, context: CONTEXT };
const ADDITION_PRESET = opt('addition-preset', 'tiny');
const ADDITION_CONFIG: GptConfig =
  ADDITION_PRESET === 'tiny' ? TINY_CONFIG : { ...PRESETS.tiny, width: 64, vocab: VOCAB_SIZE, context: CONTEXT };
const WARMUP_LR = Number(opt('warmup-lr', '3e-3'));
/**
 * Issue 22: warm up to 20–50% held-out accuracy, then RL. The warm-up stops at the top of that range: the
 * policy's temperature-1 samples score well under its greedy accuracy, and GRPO learns only from groups with a
 * right answer (above: a lower start plateaus lower).
 */
const WARMUP_TARGET = opt('warmup-target', '0.45,0.5').split(',').map(Number) as [number, number];
/**
 * GRAIL trains at lr 1e-6, where ~99% of its bf16 values stay unchanged a step. The small preset's weights
 * are smaller than a billion-parameter model's, so the same rate moves more of them: 96.8% stay unchanged at
 * 1e-6, 98.2% at 5e-7, 99.2% at 2e-7 (bench:rl --quick); the patch is measured at all three.
 */
const GRAIL_LRS = opt('grail-lrs', '1e-6,5e-7,2e-7').split(',').map(Number);
const SMALL_CONFIG: GptConfig = { ...PRESETS.small, vocab: VOCAB_SIZE, context: CONTEXT };

interface Provider {
  readonly key: string;
  readonly kind: 'honest' | RlAdversaryKind;
  readonly backend: WasmBackend;
  previous: RolloutClaim[];
}

interface CaseSpec {
  readonly name: string;
  readonly preset: string;
  readonly config: GptConfig;
  readonly task: TaskSet;
  readonly master: Float32Array;
  readonly lr: number;
  readonly updatesPerStep?: number;
  readonly steps: number;
  readonly honest: number;
  /** Of the honest providers, how many deliver each round's claims one step late (lag 1). */
  readonly late?: number;
  readonly adversaries: readonly RlAdversaryKind[];
  readonly promptsPerProvider: number;
  readonly samples: number;
  readonly evalSize: number;
  readonly warmUp: { steps: number; seconds: number; accuracy: number } | null;
}

interface Run {
  readonly accuracyBefore: number;
  readonly accuracyAfter: number;
  readonly steps: RlStepResult[];
  readonly bounds: number[];
  readonly conditionalBounds: number[];
  /** Per step: the fraction of bf16 values the step left unchanged. */
  readonly unchanged: number[];
  /** encodePolicyPatch (diff + encode) and applyPolicyPatch (decode + apply + hashes) per step, seconds. */
  readonly patchEncodeSeconds: number[];
  readonly patchApplySeconds: number[];
  readonly generationSeconds: number;
  readonly honestRollouts: number;
  readonly verdicts: RolloutVerdict[];
  readonly providers: Provider[];
  readonly accuracies: number[];
}

function oneRow(config: GptConfig, params: Float32Array): WasmBackend {
  const b = new WasmBackend(arenaFor(config, 1, config.context));
  b.writeFloats(b.arena.paramsAt, params);
  return b;
}

async function run(spec: CaseSpec): Promise<Run> {
  const maxNew = maxAnswerTokens(spec.task);
  const trainer = await RlTrainer.create(
    {
      task: spec.task,
      config: spec.config,
      promptsPerProvider: spec.promptsPerProvider,
      samples: spec.samples,
      maxNew,
      temperature: 1,
      hp: { ...ADAMW_DEFAULTS, lr: spec.lr, weightDecay: 0 },
      maxProviders: spec.honest + spec.adversaries.length,
      evalSize: spec.evalSize,
      random: mulberry32(SEED),
      updatesPerStep: spec.updatesPerStep,
    },
    spec.master,
  );
  let held: PolicyVersion = trainer.policy;
  const history: PolicyVersion[] = [held];
  const providers: Provider[] = [
    ...Array.from({ length: spec.honest }, (_, i) => ({ key: `honest-${i}`, kind: 'honest' as const })),
    ...spec.adversaries.map((kind) => ({ key: `cheat-${kind}`, kind })),
  ].map((p) => ({ ...p, backend: oneRow(spec.config, held.params), previous: [] }));
  const other = oneRow(spec.config, newTrainState(spec.config, ADAMW_DEFAULTS, SEED + 1).params);
  const stale = oneRow(spec.config, held.params);
  const answers = new Map<number, string>();
  const late = new Map(providers.slice(0, spec.late ?? 0).map((p) => [p.key, [] as RolloutClaim[]]));
  const accuracyBefore = trainer.evaluate();
  const accuracies = [accuracyBefore];
  const steps: RlStepResult[] = [];
  const bounds: number[] = [];
  const conditionalBounds: number[] = [];
  const unchanged: number[] = [];
  const patchEncodeSeconds: number[] = [];
  const patchApplySeconds: number[] = [];
  const verdicts: RolloutVerdict[] = [];
  let generationSeconds = 0;
  let honestRollouts = 0;
  for (let s = 0; s < spec.steps; s++) {
    const { assignments } = trainer.openRound(providers.map((p) => p.key));
    for (const a of assignments.values()) for (const i of a.prompts.keys()) answers.set(i, spec.task.train(i).answer);
    // A stale cheat needs a policy MAX_VERSION_LAG + 1 versions old; until one exists it works honestly.
    const old = history.length > 3 ? history[history.length - 4]! : null;
    if (old) stale.writeFloats(stale.arena.paramsAt, old.params);
    for (const p of providers) {
      const a = assignments.get(p.key)!;
      const cheating = p.kind !== 'honest' && (p.kind !== 'stale-version' || old !== null);
      const t0 = seconds();
      const claims = cheating
        ? await cheatClaims(p.kind as RlAdversaryKind, {
            backend: p.backend,
            assignment: a,
            version: held.version,
            answer: (i) => answers.get(i)!,
            other,
            stale,
            previous: p.previous,
          })
        : await rollOut(p.backend, a, held.version);
      if (p.kind === 'honest') generationSeconds += seconds() - t0;
      p.previous = claims;
      const sent = late.has(p.key) ? late.get(p.key)! : claims;
      if (late.has(p.key)) late.set(p.key, claims);
      if (p.kind === 'honest') honestRollouts += sent.length;
      verdicts.push(...trainer.submit(sent));
    }
    const r = await trainer.step();
    steps.push(r);
    verdicts.push(...r.verdicts);
    let same = 0;
    for (let i = 0; i < held.bf16.length; i++) if (held.bf16[i] === r.policy.bf16[i]) same++;
    unchanged.push(same / held.bf16.length);
    bounds.push(boundBytes(policyModel(held.bf16), policyModel(r.policy.bf16)));
    conditionalBounds.push(conditionalBoundBytes(policyModel(held.bf16), policyModel(r.policy.bf16)));
    if (conditionalBounds.at(-1)! > 0 && r.patch.length > 1.15 * Math.min(bounds.at(-1)!, conditionalBounds.at(-1)!))
      log(
        `  step ${s + 1}: patch ${r.patch.length} B is ×${(r.patch.length / bounds.at(-1)!).toFixed(3)} its bound, ×${(r.patch.length / conditionalBounds.at(-1)!).toFixed(3)} its conditional bound`,
      );
    // The trainer's encode and a provider's apply of this step's patch, timed alone (the trainer's own encode ran inside step()).
    let t0 = seconds();
    const again = await encodePolicyPatch(held, r.policy);
    patchEncodeSeconds.push(seconds() - t0);
    if (again.length !== r.patch.length) throw new Error(`step ${s}: the patch encoded again to another size`);
    t0 = seconds();
    const next = await applyPolicyPatch(held, r.patch, r.policy.version);
    patchApplySeconds.push(seconds() - t0);
    if (next.hash !== r.policy.hash) throw new Error(`step ${s}: the patch rebuilt ${next.hash}, not ${r.policy.hash}`);
    held = next;
    history.push(held);
    for (const p of providers) p.backend.writeFloats(p.backend.arena.paramsAt, held.params);
    if (spec.name === 'addition-3digit' && (s + 1) % 5 === 0) {
      accuracies.push(trainer.evaluate());
      log(
        `  step ${s + 1}: reward ${r.meanReward?.toFixed(3)}, held-out ${accuracies.at(-1)!.toFixed(3)}, patch ${r.patch.length} B, clipped ${r.clippedFraction.toFixed(3)}`,
      );
    }
  }
  const accuracyAfter = trainer.evaluate();
  trainer.dispose();
  for (const p of providers) p.backend.dispose();
  other.dispose();
  stale.dispose();
  return {
    accuracyBefore,
    accuracyAfter,
    steps,
    bounds,
    conditionalBounds,
    unchanged,
    patchEncodeSeconds,
    patchApplySeconds,
    generationSeconds,
    honestRollouts,
    verdicts,
    providers,
    accuracies,
  };
}

function summary(spec: CaseSpec, r: Run) {
  const parameters = spec.master.length;
  const patches = r.steps.map((s) => s.patch.length);
  const cheats = r.providers.filter((p) => p.kind !== 'honest');
  const refusedKeys = new Map<string, string[]>();
  for (const v of r.verdicts)
    if (!v.ok) refusedKeys.set(v.providerKey, [...(refusedKeys.get(v.providerKey) ?? []), v.reason!]);
  const honestRefused = r.verdicts.filter((v) => !v.ok && v.providerKey.startsWith('honest-')).length;
  const verifySeconds = r.steps.reduce((s, x) => s + x.verifySeconds, 0);
  const trainSeconds = r.steps.reduce((s, x) => s + x.trainSeconds, 0);
  const caughtBy = Object.fromEntries(
    cheats.map((p) => {
      const reasons = refusedKeys.get(p.key) ?? [];
      return [p.kind, [...new Set(reasons)].join('/') || 'NOT CAUGHT'];
    }),
  );
  return {
    case: spec.name,
    preset: spec.preset,
    parameters,
    learningRate: spec.lr,
    updatesPerStep: spec.updatesPerStep ?? 1,
    warmUpSteps: spec.warmUp?.steps ?? null,
    warmUpSeconds: spec.warmUp?.seconds ?? null,
    warmUpAccuracy: spec.warmUp?.accuracy ?? null,
    steps: r.steps.length,
    rolloutsPerStep: (spec.honest + spec.adversaries.length) * spec.promptsPerProvider * spec.samples,
    accuracyBefore: r.accuracyBefore,
    accuracyAfter: r.accuracyAfter,
    accuracyGain: r.accuracyAfter - r.accuracyBefore,
    accuracies: r.accuracies,
    meanRewards: r.steps.map((s) => s.meanReward),
    patchBytesMedian: median(patches),
    patchBoundBytes: median(r.bounds),
    patchOverBound: median(r.bounds) > 0 ? median(patches) / median(r.bounds) : null,
    patchOverBoundMax: worstRatio(patches, r.bounds),
    patchConditionalBoundBytes: median(r.conditionalBounds),
    patchOverConditionalBound: median(r.conditionalBounds) > 0 ? median(patches) / median(r.conditionalBounds) : null,
    patchOverConditionalBoundMax: worstRatio(patches, r.conditionalBounds),
    patchEncodeMsMedian: 1000 * median(r.patchEncodeSeconds),
    patchApplyMsMedian: 1000 * median(r.patchApplySeconds),
    modelBytes: 2 * parameters,
    unchangedMedian: median(r.unchanged),
    modelOverPatch: (2 * parameters) / Math.max(1, median(patches)),
    trainerStepSecondsMedian: median(r.steps.map((s) => s.verifySeconds + s.trainSeconds)),
    trainSecondsMedian: median(r.steps.map((s) => s.trainSeconds)),
    verifySecondsMedian: median(r.steps.map((s) => s.verifySeconds)),
    generationSecondsPerStep: r.generationSeconds / Math.max(1, r.steps.length),
    generationSecondsPerRollout: r.generationSeconds / Math.max(1, r.honestRollouts),
    verifyCostRatio: r.generationSeconds > 0 ? verifySeconds / r.generationSeconds : null,
    trainerSeconds: verifySeconds + trainSeconds,
    adversaries: cheats.length,
    adversariesCaught: cheats.filter((p) => refusedKeys.has(p.key)).length,
    caughtBy,
    honestRefused,
    honestRollouts: r.honestRollouts,
    honestLagAccepted: r.verdicts.filter((v) => v.ok && v.providerKey.startsWith('honest-') && v.lag! > 0).length,
    honestRefusals: r.verdicts
      .filter((v) => !v.ok && v.providerKey.startsWith('honest-'))
      .map((v) => `${v.reason}: ${v.detail}`)
      .slice(0, 5),
  };
}

type Row = ReturnType<typeof summary>;

function print(row: Row) {
  if (JSON_OUT) {
    console.log(JSON.stringify(row));
    return;
  }
  const f = (x: number | null, d = 3) => (x === null ? '—' : x.toFixed(d));
  console.log(
    [
      `${row.case}: ${row.preset} (${row.parameters} parameters), lr ${row.learningRate}, ${row.steps} steps × ${row.rolloutsPerStep} rollouts` +
        (row.warmUpSteps === null
          ? ''
          : `; warm-up ${row.warmUpSteps} steps, ${f(row.warmUpSeconds, 1)} s, to ${f(row.warmUpAccuracy)}`),
      `  held-out accuracy ${f(row.accuracyBefore)} → ${f(row.accuracyAfter)} (${row.accuracyGain >= 0 ? '+' : ''}${f(row.accuracyGain)})`,
      `  patch median ${row.patchBytesMedian} B (bound ${row.patchBoundBytes} B, ×${f(row.patchOverBound)}, worst step ×${f(row.patchOverBoundMax)}; conditional bound ${row.patchConditionalBoundBytes} B, ×${f(row.patchOverConditionalBound)}, worst step ×${f(row.patchOverConditionalBoundMax)}); bf16 model ${row.modelBytes} B = patch ×${f(row.modelOverPatch, 0)}; ${f(100 * row.unchangedMedian, 2)}% of bf16 values unchanged a step (median)`,
      `  patch encode ${f(row.patchEncodeMsMedian, 1)} ms, apply ${f(row.patchApplyMsMedian, 1)} ms (medians; diff + encode, decode + apply + hashes)`,
      `  trainer step median ${f(row.trainerStepSecondsMedian)} s (verify ${f(row.verifySecondsMedian)} s); generation ${f(row.generationSecondsPerStep)} s/step, ${f(row.generationSecondsPerRollout * 1000, 2)} ms/rollout; verifyCostRatio ${f(row.verifyCostRatio, 4)}`,
      `  adversaries ${row.adversariesCaught}/${row.adversaries} caught ${JSON.stringify(row.caughtBy)}; honest refused ${row.honestRefused} of ${row.honestRollouts} (${row.honestLagAccepted} accepted one version late)`,
    ].join('\n'),
  );
}

function table(rows: Row[]) {
  if (JSON_OUT || rows.length === 0) return;
  const head = [
    'case',
    'preset',
    'lr',
    'steps',
    'acc before',
    'acc after',
    'patch B (median)',
    'bound B',
    'cond. bound B',
    'model B',
    'verify/gen',
    'caught',
    'honest refused',
  ];
  const body = rows.map((r) => [
    r.case,
    r.preset,
    String(r.learningRate),
    String(r.steps),
    r.accuracyBefore.toFixed(3),
    r.accuracyAfter.toFixed(3),
    String(r.patchBytesMedian),
    String(r.patchBoundBytes),
    String(r.patchConditionalBoundBytes),
    String(r.modelBytes),
    r.verifyCostRatio === null ? '—' : r.verifyCostRatio.toFixed(4),
    `${r.adversariesCaught}/${r.adversaries}`,
    `${r.honestRefused}/${r.honestRollouts}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(['', line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n'));
}

/** The warmed-up addition policy, shared by the cases that need a policy that learns. */
let warmed: { master: Float32Array; steps: number; seconds: number; accuracy: number } | null = null;
const additionTask = taskSet(ADDITION_3, SEED, 200);

async function warmedAddition() {
  if (warmed) return warmed;
  const t0 = seconds();
  const r = await warmUp(
    newTrainState(ADDITION_CONFIG, ADAMW_DEFAULTS, SEED).params,
    {
      task: additionTask,
      config: ADDITION_CONFIG,
      lr: WARMUP_LR,
      batch: 32,
      maxSteps: Number(opt('warmup-steps', '4000')),
      evalEvery: 50,
      target: WARMUP_TARGET,
      seed: 1,
      evalSize: 200,
    },
    (p) => {
      if (p.accuracy !== undefined && p.step % 500 === 0)
        log(`  warm-up step ${p.step}: loss ${p.loss.toFixed(3)}, held-out ${p.accuracy.toFixed(3)}`);
    },
  );
  warmed = { master: r.master, steps: r.steps, seconds: seconds() - t0, accuracy: r.accuracy };
  log(`  warm-up: ${r.steps} steps, ${warmed.seconds.toFixed(1)} s, held-out ${r.accuracy.toFixed(3)}`);
  return warmed;
}

const rows: Row[] = [];
log(`bench:rl — ${QUICK ? 'quick' : 'full'}, seed ${SEED}`);

/** Runs one case, prints its row and keeps it for the table. */
async function runCase(spec: CaseSpec): Promise<void> {
  const t0 = seconds();
  const row = summary(spec, await run(spec));
  log(`  (${(seconds() - t0).toFixed(1)} s)`);
  print(row);
  rows.push(row);
}

if (CASES.has('addition-3digit')) {
  const w = await warmedAddition();
  const spec: CaseSpec = {
    name: 'addition-3digit',
    preset: ADDITION_PRESET,
    config: ADDITION_CONFIG,
    task: additionTask,
    master: w.master,
    lr: RL_LR,
    updatesPerStep: RL_UPDATES,
    steps: Number(opt('rl-steps', QUICK ? '100' : '200')),
    honest: 4,
    adversaries: [],
    // 32 prompts × G 8 a provider: 1,024 rollouts a step (see the figures above).
    promptsPerProvider: Number(opt('rl-prompts', '32')),
    samples: Number(opt('rl-samples', '8')),
    evalSize: 200,
    warmUp: w,
  };
  await runCase(spec);
}

if (CASES.has('grail-regime')) {
  // The small preset at GRAIL's learning rate; a short supervised warm-up on reversing 2–3 letters first, so that
  // groups have differing rewards and the update is not zero (an untrained policy never scores). 1-letter
  // reversal never warmed up: its 8 held-out letters are never trained on, so held-out accuracy stayed 0
  // (loss 0.000 by step 200) and the policy RL started from was whatever step 60 left.
  const task = taskSet({ kind: 'reverse', minLength: 2, maxLength: 3 }, SEED, 8);
  const t0 = seconds();
  const w = await warmUp(newTrainState(SMALL_CONFIG, ADAMW_DEFAULTS, SEED).params, {
    task,
    config: SMALL_CONFIG,
    lr: 1e-3,
    batch: 16,
    maxSteps: 200,
    evalEvery: 20,
    target: [0.2, 0.9],
    seed: 1,
  });
  const warm = { steps: w.steps, seconds: seconds() - t0, accuracy: w.accuracy };
  for (const lr of GRAIL_LRS) {
    const spec: CaseSpec = {
      name: 'grail-regime',
      preset: 'small',
      config: SMALL_CONFIG,
      task,
      master: w.master,
      lr,
      steps: QUICK ? 4 : 10,
      honest: 2,
      adversaries: [],
      promptsPerProvider: 4,
      samples: 8,
      evalSize: 8,
      warmUp: warm,
    };
    await runCase(spec);
  }
}

if (CASES.has('adversaries')) {
  const w = await warmedAddition();
  const spec: CaseSpec = {
    name: 'adversaries',
    preset: ADDITION_PRESET,
    config: ADDITION_CONFIG,
    task: additionTask,
    master: w.master,
    lr: RL_LR,
    steps: QUICK ? 6 : 10,
    honest: 3,
    late: 1,
    adversaries: RL_ADVERSARY_KINDS,
    promptsPerProvider: 4,
    samples: 4,
    evalSize: 50,
    warmUp: w,
  };
  await runCase(spec);
}

table(rows);

/**
 * bench:rl-gpu — GRAIL rollouts on a real GPU (issue 22): a provider samples with the engine's WebGPU
 * forward (web/src/engine/webgpu, the kernels the browser runs) under Dawn, the engine inside Chromium's
 * WebGPU, through the `webgpu` npm package; beside it a provider on WASM; the shipped RlTrainer (WASM)
 * checks every rollout of both — sketches at random positions, the sampling replayed under the assigned
 * seed, log-probabilities — and takes GRPO steps, so the providers also move through policy versions.
 * In the e2e, WebGPU is SwiftShader (a CPU); this runs where a GPU is.
 *   DAWN_MODULE=path/to/webgpu/index.js  where the `webgpu` package is (default: 'webgpu', `npm i --no-save webgpu`)
 *   --steps n (3), --prompts n (8), --samples n (8), --warmup-steps n (400)
 * Prints one JSON object: the adapter, then per provider its rollouts, accepted, refused with reasons, tokens let
 * through only by the CDF boundary slack, the largest log-prob gap, and its generation seconds.
 * Built for Node by bench/gpu/bundle.mjs (esbuild; the WGSL sources are imported as text).
 */
import {
  ADDITION_3,
  maxAnswerTokens,
  RlTrainer,
  type RolloutClaim,
  type RolloutVerdict,
  rollOut,
  taskSet,
  VOCAB_SIZE,
  warmUp,
} from '@shared/jobs/rl';
import { mulberry32 } from '@shared/random';
import { ADAMW_DEFAULTS, arenaFor, type GptConfig, newTrainState, PRESETS, WasmBackend } from '@shared/train';
import { WebGpuBackend } from '../web/src/engine/webgpu/kernels';
import { opt } from './lib/args';

const SEED = 2222;
const STEPS = Number(opt('steps', '3'));
const PROMPTS = Number(opt('prompts', '8'));
const SAMPLES = Number(opt('samples', '8'));
const WARMUP_STEPS = Number(opt('warmup-steps', '400'));
/** The tiny preset itself (width 128) on 3-digit addition: prompt and answer fit 16 positions. */
const CONFIG: GptConfig = { ...PRESETS.tiny, vocab: VOCAB_SIZE, context: 16 };
const seconds = () => performance.now() / 1000;

const dawn = (await import(/* @vite-ignore */ process.env.DAWN_MODULE ?? 'webgpu')) as {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
};
Object.assign(globalThis, dawn.globals);
const gpu = dawn.create([]);
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) {
  console.log(JSON.stringify({ error: 'no WebGPU adapter: run this where Dawn finds a GPU (Vulkan driver)' }));
  process.exit(2);
}

const task = taskSet(ADDITION_3, SEED, 200);
const t0 = seconds();
const warmed = await warmUp(newTrainState(CONFIG, ADAMW_DEFAULTS, SEED).params, {
  task,
  config: CONFIG,
  lr: 3e-3,
  batch: 32,
  maxSteps: WARMUP_STEPS,
  evalEvery: 100,
  target: [0.2, 0.5],
  seed: 1,
  evalSize: 200,
});
const warmUpSeconds = seconds() - t0;

const trainer = await RlTrainer.create(
  {
    task,
    config: CONFIG,
    promptsPerProvider: PROMPTS,
    samples: SAMPLES,
    maxNew: maxAnswerTokens(task),
    temperature: 1,
    hp: { ...ADAMW_DEFAULTS, lr: 3e-4, weightDecay: 0 },
    maxProviders: 2,
    evalSize: 200,
    random: mulberry32(SEED),
  },
  warmed.master,
);

const arena = arenaFor(CONFIG, 1, CONFIG.context);
const onGpu = await WebGpuBackend.create(arena, gpu);
const onWasm = new WasmBackend(arenaFor(CONFIG, 1, CONFIG.context));
interface Side {
  readonly key: string;
  readonly roll: (a: Parameters<typeof rollOut>[1], version: number) => Promise<RolloutClaim[]>;
  readonly write: (params: Float32Array) => void;
  generationSeconds: number;
  readonly verdicts: RolloutVerdict[];
}
const sides: Side[] = [
  {
    key: 'webgpu',
    roll: (a, v) => rollOut(onGpu, a, v, undefined, (at, n) => onGpu.readAsync(at, n)),
    write: (p) => onGpu.writeFloats(onGpu.arena.paramsAt, p),
    generationSeconds: 0,
    verdicts: [],
  },
  {
    key: 'wasm',
    roll: (a, v) => rollOut(onWasm, a, v),
    write: (p) => onWasm.writeFloats(onWasm.arena.paramsAt, p),
    generationSeconds: 0,
    verdicts: [],
  },
];
let policy = trainer.policy;
for (const s of sides) s.write(policy.params);
const accuracyBefore = trainer.evaluate();
for (let step = 0; step < STEPS; step++) {
  const { assignments } = trainer.openRound(sides.map((s) => s.key));
  for (const s of sides) {
    const t = seconds();
    const claims = await s.roll(assignments.get(s.key)!, policy.version);
    s.generationSeconds += seconds() - t;
    s.verdicts.push(...trainer.submit(claims));
  }
  const r = await trainer.step();
  for (const v of r.verdicts) sides.find((s) => s.key === v.providerKey)?.verdicts.push(v);
  policy = r.policy;
  for (const s of sides) s.write(policy.params);
}
const accuracyAfter = trainer.evaluate();

const info = adapter.info;
console.log(
  JSON.stringify({
    adapter: { vendor: info.vendor, architecture: info.architecture, description: info.description },
    preset: 'tiny',
    warmUp: { steps: warmed.steps, seconds: warmUpSeconds, accuracy: warmed.accuracy },
    steps: STEPS,
    accuracyBefore,
    accuracyAfter,
    providers: sides.map((s) => {
      const refused = s.verdicts.filter((v) => !v.ok);
      const checked = s.verdicts.filter((v) => v.ok && v.checked);
      return {
        provider: s.key,
        rollouts: s.verdicts.length,
        accepted: s.verdicts.length - refused.length,
        fullyChecked: checked.length,
        refused: refused.length,
        reasons: [...new Set(refused.map((v) => `${v.reason}: ${v.detail ?? ''}`))].slice(0, 5),
        boundaryTokens: checked.reduce((n, v) => n + (v.boundaryTokens ?? 0), 0),
        maxLogprobGap: Math.max(0, ...checked.map((v) => v.logprobGap ?? 0)),
        generationSeconds: s.generationSeconds,
      };
    }),
  }),
);
trainer.dispose();
onGpu.destroy();
onWasm.dispose();
process.exit(0);

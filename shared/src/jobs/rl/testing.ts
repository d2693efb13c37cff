/** Fixtures for the RL tests (not shipped): a small policy on the JS f32 path and on WASM with the same weights. */
import {
  ADAMW_DEFAULTS,
  arenaFor,
  type Backend,
  type GptConfig,
  JsBackend,
  newTrainState,
  restoreInto,
  trainStep,
  WasmBackend,
} from '../../train';
import { taskSet, ADDITION_3 } from './tasks';
import { encodeText, EOS, PAD, VOCAB_SIZE } from './vocab';

/** Width 64 so top-16 is a quarter of the channels, as top-16 of the tiny preset's 128 is an eighth. */
export const RL_TEST_CONFIG: GptConfig = {
  kind: 'gpt',
  layers: 2,
  width: 64,
  heads: 4,
  context: 24,
  vocab: VOCAB_SIZE,
};

/** Init ×3: sharper distributions and LayerNorm inputs than GPT-2's init, closer to a trained policy. */
export function policyParams(seed: number, config = RL_TEST_CONFIG): Float32Array {
  const s = newTrainState(config, ADAMW_DEFAULTS, seed);
  return Float32Array.from(s.params, (x) => x * 3);
}

export function backendWith(kind: 'js' | 'wasm', params: Float32Array, config = RL_TEST_CONFIG): Backend {
  const arena = arenaFor(config, 1, config.context);
  const b = kind === 'js' ? new JsBackend(arena, 'f32') : new WasmBackend(arena);
  restoreInto(b, newTrainState(config, ADAMW_DEFAULTS, 0));
  b.writeFloats(arena.paramsAt, params);
  return b;
}

/** `steps` AdamW steps of supervised training on addition from `params` (a later policy version). */
export function trainedFrom(params: Float32Array, steps: number, lr: number, config = RL_TEST_CONFIG): Float32Array {
  const b = backendWith('wasm', params, config);
  const set = taskSet(ADDITION_3, 11, 1);
  const T = config.context;
  for (let t = 1; t <= steps; t++) {
    const e = set.train(t);
    const seq = [...encodeText(e.prompt + e.answer), EOS];
    const inputs = new Int32Array(T).fill(PAD);
    inputs.set(seq);
    const targets = new Int32Array(T).fill(PAD);
    targets.set(seq.slice(1));
    trainStep(b, { inputs, targets }, { ...ADAMW_DEFAULTS, lr }, t);
  }
  return Float32Array.from(b.readFloats(b.arena.paramsAt, b.arena.params.size));
}

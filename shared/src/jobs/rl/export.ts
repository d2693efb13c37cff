/**
 * A policy leaves the browser as the Train job's files: a safetensors checkpoint (weights, config and
 * vocabulary; the optimizer state is zero, since RL's AdamW moments are not kept across reloads) and an
 * ONNX graph for inference. The vocabulary rides in both as the character alphabet.
 */
import { exportGptOnnx } from '../train/onnx-export';
import { stateToSafetensors } from '../train/safetensors-state';
import { ADAMW_DEFAULTS, type GptConfig, newTrainState } from '../../train';
import { ALPHABET, EOS, PAD } from './vocab';

/** What stands in for a BPE tokenizer in exported files: one id per character after PAD and EOS. */
export const POLICY_VOCAB = {
  toJSON: () => ({ kind: 'characters', pad: PAD, eos: EOS, firstId: 2, alphabet: ALPHABET }),
};

export function policySafetensors(config: GptConfig, master: Float32Array, version: number): Uint8Array {
  const state = newTrainState(config, ADAMW_DEFAULTS, 0);
  state.params.set(master);
  state.step = version;
  return stateToSafetensors(state, POLICY_VOCAB);
}

export function policyOnnx(config: GptConfig, master: Float32Array, name = 'policy'): Uint8Array {
  return exportGptOnnx(config, master, POLICY_VOCAB, name);
}

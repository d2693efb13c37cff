/**
 * Softmax cross-entropy over the vocabulary, fused: probs = softmax(logits)
 * (max-subtracted), losses[n] = -log probs[n, target]. The backward of the
 * mean loss, with dloss = 1/N per row, is dlogits += (probs - onehot) / N.
 * The weighted backward takes dloss per row from dlosses (llm.c's form), for
 * losses L = Σ w_n · losses[n] = −Σ w_n log p(y_n): policy gradients weigh
 * each token by its advantage, and a weight of 0 masks a prompt token.
 */
import type { Vec } from './types';

export function crossentropyForward(losses: Vec, probs: Vec, logits: Vec, targets: Int32Array, N: number, V: number) {
  for (let n = 0; n < N; n++) {
    const r = n * V;
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (logits[r + i]! > max) max = logits[r + i]!;
    let sum = 0;
    for (let i = 0; i < V; i++) {
      const e = Math.exp(logits[r + i]! - max);
      probs[r + i] = e;
      sum += e;
    }
    for (let i = 0; i < V; i++) probs[r + i] = probs[r + i]! / sum;
    losses[n] = -Math.log(probs[r + targets[n]!]!);
  }
}

/** Accumulates into dlogits the gradient of mean(losses) (each row weighs 1/N). */
export function crossentropyBackward(dlogits: Vec, probs: Vec, targets: Int32Array, N: number, V: number) {
  const dloss = 1 / N;
  for (let n = 0; n < N; n++) {
    const r = n * V;
    const y = targets[n]!;
    for (let i = 0; i < V; i++) {
      const p = probs[r + i]!;
      dlogits[r + i] = dlogits[r + i]! + (p - (i === y ? 1 : 0)) * dloss;
    }
  }
}

/** Accumulates into dlogits the gradient of Σ dlosses[n] · losses[n]: dlogits += dlosses[n] · (probs − onehot). */
export function crossentropyBackwardWeighted(
  dlogits: Vec,
  probs: Vec,
  targets: Int32Array,
  dlosses: Vec,
  N: number,
  V: number,
) {
  for (let n = 0; n < N; n++) {
    const r = n * V;
    const y = targets[n]!;
    const w = dlosses[n]!;
    if (w === 0) continue;
    for (let i = 0; i < V; i++) {
      const p = probs[r + i]!;
      dlogits[r + i] = dlogits[r + i]! + (p - (i === y ? 1 : 0)) * w;
    }
  }
}

/**
 * How far two f32 runs of the small preset drift apart on their own: the engine against itself with the
 * last mantissa bit of every 1000th initial weight flipped, on bench:train's batches. Measured here
 * (2026-12): identical to 6 digits for 10 steps, then 2.1e-3 apart in validation loss after 50 steps at
 * lr 1e-3 with the first kernels, and 1.8e-2 apart (6.4316 against 6.4132; step-50 training loss 4.8e-3)
 * with the packed-GEMM kernels — the size of gap rounding alone opens, so the engine-vs-TF.js gap after 50
 * small-preset steps (1.9e-2 in bench:train-chromium) is no sign of a maths difference; after 8 steps they
 * agree to ~3e-6, and the step-by-step losses agree to ~1e-5 until the loss spike at step 12.
 *   npx tsx bench/train/sensitivity.ts
 */
import { arenaFor, evalLoss, restoreInto, trainStep, WasmBackend } from '@shared/train';
import { CORPUS_FILES, HP, trainCase } from './case';
import { brownText } from './corpus';

const { B, T, batches, val, state } = trainCase('small', brownText(CORPUS_FILES), 50);
for (const eps of [0, 1]) {
  const b = new WasmBackend(arenaFor(state.config, B, T));
  restoreInto(b, state);
  // eps = 1: flip the last mantissa bit of one weight in a thousand.
  if (eps) {
    const u = new Uint32Array(b.f.buffer, b.f.byteOffset, b.arena.params.size);
    for (let i = 0; i < u.length; i += 1000) u[i] = u[i]! ^ 1;
  }
  const losses: number[] = [];
  batches.forEach((batch, k) => losses.push(trainStep(b, batch, HP, k + 1)));
  console.log(
    eps,
    [0, 9, 19, 29, 39, 49].map((k) => losses[k]!.toFixed(6)).join(' '),
    'val',
    evalLoss(b, val).toFixed(6),
  );
}

/**
 * How far two f32 runs of the small preset drift apart on their own: the engine against itself with the
 * last mantissa bit of every 1000th initial weight flipped, on bench:train's batches. Measured here
 * (2026-12): identical to 6 digits for 10 steps, then 2.1e-3 apart in validation loss after 50 steps at
 * lr 1e-3 — the size of gap rounding alone opens, so bench:train's engine-vs-TF.js loss gap after 50
 * small-preset steps (~2e-2) is no sign of a maths difference; after 8 steps they agree to ~3e-6.
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

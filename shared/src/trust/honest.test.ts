import { describe, expect, it } from 'vitest';
import type { PeerId } from '../identity';
import { toleranceFor } from './adapterClass';
import { compareTensors } from './compare';
import { JobVerifier } from './jobVerifier';
import { resolvePolicy } from './policy';
import { seededRandom, nextInt } from './random';
import { ReputationBook } from './reputation';
import type { ResultTensor } from './tensor';
import { BACKEND_VARIANTS, makeMlp, mlpForward, randomMatrix } from './testing/backends';

const UNITS = 1000;

describe('honest providers on different backends', () => {
  it(`TRUST-C2: across ${UNITS} units, no honest result is rejected (redundancy 2 over mixed backends)`, () => {
    const rng = seededRandom(2026);
    const mlp = makeMlp(rng, [16, 32, 8]);
    const providers: { id: PeerId; variant: (typeof BACKEND_VARIANTS)[number] }[] = BACKEND_VARIANTS.map(
      (variant, i) => ({ id: `p${i}`.padEnd(43, 'x'), variant }),
    );
    const byId = new Map(providers.map((p) => [p.id, p]));
    const inputs = new Map<number, Float32Array>();
    const verifier = new JobVerifier<ResultTensor>({
      jobId: 'honest-job',
      policy: resolvePolicy({ redundancy: 2 }),
      reputation: new ReputationBook(() => 0),
      agree: (a, b) => compareTensors(a.result, b.result, toleranceFor(a.adapterClass, b.adapterClass)).agree,
      rng,
    });
    let accepted = 0;
    let closest = 0;
    const compute = (unitId: number, peer: PeerId): void => {
      const p = byId.get(peer)!;
      const out = mlpForward(mlp, inputs.get(unitId)!, 4, p.variant);
      handle(
        verifier.resultArrived(unitId, {
          peerId: peer,
          adapterClass: p.variant.adapterClass,
          result: { dtype: 'float32', dims: [4, 8], data: out },
        }),
      );
    };
    const handle = (actions: ReturnType<typeof verifier.openUnit>): void => {
      for (const a of actions) {
        if (a.kind === 'exclude') throw new Error(`honest provider excluded: ${a.reason}`);
        if (a.kind === 'accept') accepted++;
        if (a.kind === 'dispatch') {
          const free = providers.filter((p) => !a.avoid.includes(p.id));
          const chosen: PeerId[] = [];
          for (let i = 0; i < a.count; i++) chosen.push(free.splice(nextInt(rng, free.length), 1)[0]!.id);
          for (const id of chosen) verifier.dispatched(a.unitId, id);
          for (const id of chosen) compute(a.unitId, id);
        }
      }
    };
    for (let u = 0; u < UNITS; u++) {
      inputs.set(u, randomMatrix(rng, 4 * 16, 1 + nextInt(rng, 10)));
      handle(verifier.openUnit(u, providers[u % providers.length]!.id));
    }
    // also every pair of backends on a sample of units, to report how close honest drift came to the line
    for (let u = 0; u < 100; u++) {
      const outs = BACKEND_VARIANTS.map((v) => ({
        v,
        t: { dtype: 'float32', dims: [4, 8], data: mlpForward(mlp, inputs.get(u)!, 4, v) } as ResultTensor,
      }));
      for (const a of outs)
        for (const b of outs) {
          const c = compareTensors(a.t, b.t, toleranceFor(a.v.adapterClass, b.v.adapterClass));
          expect(c.agree).toBe(true);
          if (c.agree) closest = Math.max(closest, c.maxExcessRatio);
        }
    }
    expect(accepted).toBe(UNITS);
    expect(verifier.counts()).toMatchObject({ verified: UNITS, pending: 0, rejectedResults: 0 });
    expect(closest).toBeLessThan(0.5); // honest drift stays well inside the tolerance
  });
});

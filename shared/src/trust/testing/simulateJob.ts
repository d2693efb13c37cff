/**
 * A seeded, sequential simulation of one job through the shipped coordinator
 * (shared/src/jobs/coordinator.ts, the same JobCoordinator the browser runner
 * drives): honest providers on different simulated backends, optionally one
 * adversary, units computed for real (a small MLP). Every provider keeps the
 * coordinator's window full; results come back in a seeded random order. Used
 * by jobVerifier.test.ts and bench/trust.ts. Compute is counted in units
 * (every unit costs the same FLOPs).
 */
import { toleranceFor } from '../adapterClass';
import { compareTensors } from '../compare';
import { JobCoordinator, type CoordinatorCommand } from '../../jobs/coordinator';
import type { JobPolicy } from '../policy';
import { nextFloat, nextInt, seededRandom, type RandomSource } from '../random';
import { ReputationBook } from '../reputation';
import type { ResultTensor } from '../tensor';
import {
  BACKEND_VARIANTS,
  corrupt,
  makeMlp,
  mlpForward,
  randomMatrix,
  type BackendVariant,
  type Corruption,
  type Mlp,
} from './backends';

export interface AdversarySpec {
  variant: BackendVariant;
  corruption: Corruption;
  /** Fraction of the units it is given on which it returns a wrong result. */
  fraction: number;
  /** Results it returns honestly first, to earn trust (a "late cheater"). */
  startAfter?: number;
}

export interface SimConfig {
  seed: number;
  units: number;
  rows: number;
  sizes: number[];
  honest: BackendVariant[];
  adversary?: AdversarySpec;
  policy: JobPolicy;
}

export interface SimMetrics {
  units: number;
  /** Extra computations spent on checks (replicas, requester re-execution) / units. */
  overhead: number;
  /** The same, over units first opened after the adversary was excluded (whole job when none was). */
  overheadAfterExclusion: number;
  /** Units re-run because an excluded key had vouched for them alone / units. */
  rerunFraction: number;
  caught: boolean;
  /** Results the adversary returned up to and including the one that excluded it. */
  adversaryUnitsUntilCaught: number | null;
  /** Wrong results it returned up to and including the one that excluded it (1 = caught on its first). */
  adversaryWrongUntilCaught: number | null;
  wrongReturned: number;
  /** Of those, speculative copies of units already decided that were discarded unjudged (a policy that checks nothing; TRUST-Q7). */
  wrongDiscarded: number;
  /** Wrong results among the adversary's first EARLY_UNITS results that were accepted, even if re-run later (goal: 0). */
  escapedEarly: number;
  /** Wrong results kept out of the final output (caught, or re-run after exclusion) / wrong returned. */
  detectionRate: number;
  honestResults: number;
  honestRejected: number;
  /** Final outputs that differ from the reference beyond the cross-class tolerance. */
  wrongInOutput: number;
}

/** Honest outputs are deterministic per (unit, backend): cache them across runs that share a seed. */
export class UnitCache {
  readonly mlp: Mlp;
  private readonly inputs: Float32Array[] = [];
  private readonly outputs = new Map<string, Float32Array>();
  constructor(
    readonly seed: number,
    readonly rows: number,
    readonly sizes: number[],
  ) {
    const rng = seededRandom(seed);
    this.mlp = makeMlp(rng, sizes);
    this.inputRng = seededRandom(seed ^ 0x5eed);
  }
  private readonly inputRng: RandomSource;
  input(unit: number): Float32Array {
    while (this.inputs.length <= unit) this.inputs.push(randomMatrix(this.inputRng, this.rows * this.sizes[0]!, 1));
    return this.inputs[unit]!;
  }
  output(unit: number, variant: BackendVariant): Float32Array {
    const key = `${unit}/${variant.name}`;
    let out = this.outputs.get(key);
    if (!out) {
      out = mlpForward(this.mlp, this.input(unit), this.rows, variant);
      this.outputs.set(key, out);
    }
    return out;
  }
}

/** The goal: every wrong result within an adversary's first 20 units is caught. */
export const EARLY_UNITS = 20;

const REFERENCE = BACKEND_VARIANTS.find((v) => v.name === 'cpu-reference')!;

export function simulateJob(
  config: SimConfig,
  cache = new UnitCache(config.seed, config.rows, config.sizes),
): SimMetrics {
  // Independent streams: the verifier's draws, the scheduler's choices and the adversary's coin never share state.
  const rng = seededRandom(config.seed * 7919 + 1);
  const verifierRng = seededRandom(config.seed * 104_729 + 2);
  const corruptionSalt = [...(config.adversary?.corruption ?? '')].reduce(
    (h, ch) => (h * 31 + ch.charCodeAt(0)) >>> 0,
    0,
  );
  const adversaryRng = seededRandom((config.seed * 15_485_863 + 3 + corruptionSalt) >>> 0);
  const dims = [config.rows, config.sizes.at(-1)!];
  const tensor = (data: Float32Array): ResultTensor => ({ dtype: 'float32', dims, data });
  const providers = config.honest.map((variant, i) => ({
    id: `honest-${i}`.padEnd(43, '_'),
    variant,
    adversary: false,
  }));
  const adversaryId = 'adversary'.padEnd(43, '_');
  if (config.adversary) providers.push({ id: adversaryId, variant: config.adversary.variant, adversary: true });
  const byId = new Map(providers.map((p) => [p.id, p]));

  const coordinator = new JobCoordinator<ResultTensor>({
    jobId: `sim-${config.seed}`,
    units: config.units,
    policy: config.policy,
    reputation: new ReputationBook(() => 0),
    agree: (a, b) =>
      compareTensors(a.result, b.result, toleranceFor(a.adapterClass, b.adapterClass, config.policy.tolerance)).agree,
    canCheck: true,
    rng: verifierRng,
  });

  const m = {
    verification: 0,
    verificationAfter: 0,
    openedAfter: 0,
    reruns: 0,
    adversaryResults: 0,
    wrongReturned: 0,
    wrongDiscarded: 0,
    honestResults: 0,
    honestRejected: 0,
  };
  let caughtAt: number | null = null;
  let caughtAtWrong: number | null = null;
  const wrongUnits = new Map<string, number>(); // `${unit}/${peer}` → index of that result among the adversary's results
  let lastAdversaryOutput: Float32Array | undefined;
  const final = new Map<number, Float32Array>();
  const computed = new Set<number>(); // units whose primary computation is already counted
  const openedAfterExclusion = new Set<number>();
  const acceptedEarly = new Set<number>(); // units where a wrong result among the adversary's first EARLY_UNITS was accepted, even if re-run later
  const rerunPending = new Set<number>();
  const inFlight: { peerId: string; unitId: number }[] = [];

  const countComputation = (unit: number) => {
    if (!computed.has(unit)) {
      computed.add(unit);
      if (caughtAt !== null || !config.adversary) openedAfterExclusion.add(unit);
      if (openedAfterExclusion.has(unit)) m.openedAfter++;
      if (rerunPending.delete(unit)) m.reruns++;
      return;
    }
    m.verification++;
    if (openedAfterExclusion.has(unit)) m.verificationAfter++;
  };

  const compute = (unit: number, peerId: string): Float32Array => {
    const p = byId.get(peerId)!;
    let out = cache.output(unit, p.variant);
    if (p.adversary) {
      m.adversaryResults++;
      if (
        nextFloat(adversaryRng) < config.adversary!.fraction &&
        m.adversaryResults > (config.adversary!.startAfter ?? 0)
      ) {
        const other = unit > 0 ? cache.output(nextInt(adversaryRng, unit), REFERENCE) : undefined;
        out = corrupt(out, config.adversary!.corruption, {
          rng: adversaryRng,
          previousOwn: lastAdversaryOutput,
          otherUnit: other,
        });
        m.wrongReturned++;
        wrongUnits.set(`${unit}/${peerId}`, m.adversaryResults);
      }
      lastAdversaryOutput = out;
    } else m.honestResults++;
    return out;
  };

  const carryOut = (commands: CoordinatorCommand<ResultTensor>[]) => {
    const queue = [...commands];
    while (queue.length) {
      const c = queue.shift()!;
      switch (c.type) {
        case 'send':
          countComputation(c.unitId);
          inFlight.push({ peerId: c.peerId, unitId: c.unitId });
          break;
        case 'check':
          countComputation(c.unitId);
          queue.push(
            ...coordinator.checkDone(c.unitId, tensor(cache.output(c.unitId, REFERENCE)), REFERENCE.adapterClass),
          );
          break;
        case 'accept': {
          final.set(c.unitId, c.result.data as Float32Array);
          const index = wrongUnits.get(`${c.unitId}/${adversaryId}`);
          if (index !== undefined && index <= EARLY_UNITS && c.providers.includes(adversaryId))
            acceptedEarly.add(c.unitId);
          break;
        }
        case 'reject': {
          const p = byId.get(c.peerId)!;
          if (p.adversary) {
            caughtAt ??= m.adversaryResults;
            caughtAtWrong ??= m.wrongReturned;
          } else m.honestRejected++;
          for (const unit of c.rerun) {
            final.delete(unit);
            computed.delete(unit);
            rerunPending.add(unit);
          }
          break;
        }
        case 'duplicate':
          if (wrongUnits.delete(`${c.unitId}/${c.peerId}`)) m.wrongDiscarded++;
          break;
        case 'fail':
          throw new Error(`simulated job failed: ${c.reason}`);
        default:
          break;
      }
    }
  };

  for (const p of providers) carryOut(coordinator.providerReady(p.id, p.variant.adapterClass));
  while (inFlight.length > 0) {
    const [next] = inFlight.splice(nextInt(rng, inFlight.length), 1);
    const { peerId, unitId } = next!;
    carryOut(coordinator.resultArrived(peerId, unitId, tensor(compute(unitId, peerId))));
  }
  if (!coordinator.complete) throw new Error(`simulated job stalled at ${coordinator.finished}/${config.units} units`);

  let wrongInOutput = 0;
  let wrongKept = 0;
  for (let unit = 0; unit < config.units; unit++) {
    const out = final.get(unit);
    const ok =
      out &&
      compareTensors(tensor(out), tensor(cache.output(unit, REFERENCE)), config.policy.tolerance.crossClass).agree;
    if (!ok) wrongInOutput++;
  }
  for (const key of wrongUnits.keys()) {
    const unit = Number(key.split('/')[0]);
    const out = final.get(unit);
    if (
      !out ||
      !compareTensors(tensor(out), tensor(cache.output(unit, REFERENCE)), config.policy.tolerance.crossClass).agree
    ) {
      wrongKept++;
    }
  }
  return {
    units: config.units,
    overhead: m.verification / config.units,
    overheadAfterExclusion: m.openedAfter > 0 ? m.verificationAfter / m.openedAfter : 0,
    rerunFraction: m.reruns / config.units,
    caught: caughtAt !== null,
    adversaryUnitsUntilCaught: caughtAt,
    adversaryWrongUntilCaught: caughtAtWrong,
    wrongReturned: m.wrongReturned,
    wrongDiscarded: m.wrongDiscarded,
    escapedEarly: acceptedEarly.size,
    detectionRate: m.wrongReturned > 0 ? 1 - Math.min(wrongKept, m.wrongReturned) / m.wrongReturned : 1,
    honestResults: m.honestResults,
    honestRejected: m.honestRejected,
    wrongInOutput,
  };
}

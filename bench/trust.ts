/**
 * npm run bench:trust — what verification costs and what it catches.
 * A seeded job of ≥1,000 MLP units computed for real by honest providers on
 * simulated backends (different summation order, FMA, tanh formula) and one
 * adversary that returns wrong results on a chosen fraction of its units.
 * Prints medians over seeds per policy and saves JSON to bench/results/.
 *   --seeds N (default 5)  --units N (default 1000)  --fractions 0.3,0.1
 * A last scenario is a "late cheater": honest for its first 100 results, then
 * wrong on 30% — the known limit of adaptive checking (SPEC.md): the default
 * policy's one check per block of 29 results catches it in 19 of 20 runs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolvePolicy, type JobPolicyInput } from '@shared/trust';
import { BACKEND_VARIANTS, CORRUPTIONS } from '@shared/trust/testing/backends';
import { simulateJob, UnitCache, type SimMetrics } from '@shared/trust/testing/simulateJob';
import { measureSignatureCost } from './trust/signatures';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const SEEDS = Number(arg('seeds', '5'));
const UNITS = Number(arg('units', '1000'));
interface Scenario {
  label: string;
  fraction: number;
  startAfter: number;
}
const SCENARIOS: Scenario[] = [
  ...arg('fractions', '0.3,0.1')
    .split(',')
    .map((f) => ({ label: `wrong on ${Number(f) * 100}% of its units`, fraction: Number(f), startAfter: 0 })),
  { label: 'late cheater: honest for 100 results, then wrong on 30%', fraction: 0.3, startAfter: 100 },
];
const ROWS = 8;
const SIZES = [32, 64, 16];

const POLICIES: Record<string, JobPolicyInput> = {
  none: { adaptive: false, sampleRate: 0 },
  'redundancy-2': { redundancy: 2 },
  'sample-10%': { adaptive: false, sampleRate: 0.1 },
  'adaptive-local': { checkWith: 'requester' },
  'adaptive (default)': {},
};

const variant = (name: string) => BACKEND_VARIANTS.find((v) => v.name === name)!;
const HONEST = ['webgpu-nvidia', 'webgpu-amd', 'wasm-simd', 'webgpu-swiftshader'].map(variant);
const ADVERSARY_BACKEND = variant('webgpu-nvidia');

const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '—');

interface Row {
  policy: string;
  scenario: string;
  corruption: string;
  seed: number;
  metrics: SimMetrics;
}

const rows: Row[] = [];
const started = performance.now();
for (let seed = 1; seed <= SEEDS; seed++) {
  const cache = new UnitCache(seed, ROWS, SIZES);
  for (const scenario of SCENARIOS) {
    for (const corruption of CORRUPTIONS) {
      for (const [policy, input] of Object.entries(POLICIES)) {
        const metrics = simulateJob(
          {
            seed,
            units: UNITS,
            rows: ROWS,
            sizes: SIZES,
            honest: HONEST,
            adversary: {
              variant: ADVERSARY_BACKEND,
              corruption,
              fraction: scenario.fraction,
              startAfter: scenario.startAfter,
            },
            policy: resolvePolicy(input),
          },
          cache,
        );
        rows.push({ policy, scenario: scenario.label, corruption, seed, metrics });
      }
    }
  }
}

interface Summary {
  policy: string;
  scenario: string;
  runs: number;
  overhead: number;
  overheadAfterExclusion: number;
  detectionRateMedian: number;
  detectionRateMin: number;
  caughtRuns: number;
  caughtWithin20: number;
  /** Runs in which a wrong result among the adversary's first 20 was accepted (even if re-run later). */
  escapedEarlyRuns: number;
  unitsUntilCaughtMedian: number;
  unitsUntilCaughtMax: number;
  wrongUntilCaughtMedian: number;
  wrongUntilCaughtMax: number;
  falseRejectRate: number;
  wrongInOutput: number;
  rerunFraction: number;
}

const summaries: Summary[] = [];
for (const scenario of SCENARIOS) {
  for (const policy of Object.keys(POLICIES)) {
    const rs = rows.filter((r) => r.policy === policy && r.scenario === scenario.label).map((r) => r.metrics);
    const caught = rs.filter((r) => r.caught);
    const honestResults = rs.reduce((s, r) => s + r.honestResults, 0);
    summaries.push({
      policy,
      scenario: scenario.label,
      runs: rs.length,
      overhead: median(rs.map((r) => r.overhead)),
      overheadAfterExclusion: median(caught.map((r) => r.overheadAfterExclusion)),
      detectionRateMedian: median(rs.map((r) => r.detectionRate)),
      detectionRateMin: Math.min(...rs.map((r) => r.detectionRate)),
      caughtRuns: caught.length,
      escapedEarlyRuns: rs.filter((r) => r.escapedEarly > 0).length,
      caughtWithin20: rs.filter((r) => r.caught && r.adversaryUnitsUntilCaught! <= 20).length,
      unitsUntilCaughtMedian: median(caught.map((r) => r.adversaryUnitsUntilCaught!)),
      unitsUntilCaughtMax: caught.length ? Math.max(...caught.map((r) => r.adversaryUnitsUntilCaught!)) : NaN,
      wrongUntilCaughtMedian: median(caught.map((r) => r.adversaryWrongUntilCaught!)),
      wrongUntilCaughtMax: caught.length ? Math.max(...caught.map((r) => r.adversaryWrongUntilCaught!)) : NaN,
      falseRejectRate: honestResults ? rs.reduce((s, r) => s + r.honestRejected, 0) / honestResults : 0,
      wrongInOutput: median(rs.map((r) => r.wrongInOutput)),
      rerunFraction: median(rs.map((r) => r.rerunFraction)),
    });
  }
}
const seconds = (performance.now() - started) / 1000;
const signatures = await measureSignatureCost(300);

console.log(
  `trust bench: ${UNITS} units × ${SEEDS} seeds × ${CORRUPTIONS.length} corruptions (${CORRUPTIONS.join(', ')}), ${HONEST.length} honest providers + 1 adversary; MLP ${SIZES.join('→')} × ${ROWS} rows per unit; ${seconds.toFixed(1)} s`,
);
for (const scenario of SCENARIOS) {
  console.log(`\nadversary ${scenario.label} (medians over ${SEEDS * CORRUPTIONS.length} runs)`);
  console.log(
    [
      'policy'.padEnd(19),
      'overhead',
      'after-excl',
      'detect(med/min)',
      'caught',
      '≤20 units',
      'early-escapes',
      'units→caught(med/max)',
      'wrong→caught',
      'false-rej',
      'wrong-out',
      'rerun',
    ].join('  '),
  );
  for (const s of summaries.filter((x) => x.scenario === scenario.label)) {
    console.log(
      [
        s.policy.padEnd(19),
        pct(s.overhead).padStart(8),
        pct(s.overheadAfterExclusion).padStart(10),
        `${pct(s.detectionRateMedian)}/${pct(s.detectionRateMin)}`.padStart(15),
        `${s.caughtRuns}/${s.runs}`.padStart(6),
        `${s.caughtWithin20}/${s.runs}`.padStart(9),
        `${s.escapedEarlyRuns}/${s.runs}`.padStart(13),
        `${Number.isNaN(s.unitsUntilCaughtMedian) ? '—' : s.unitsUntilCaughtMedian}/${Number.isNaN(s.unitsUntilCaughtMax) ? '—' : s.unitsUntilCaughtMax}`.padStart(
          21,
        ),
        `${Number.isNaN(s.wrongUntilCaughtMedian) ? '—' : s.wrongUntilCaughtMedian}/${Number.isNaN(s.wrongUntilCaughtMax) ? '—' : s.wrongUntilCaughtMax}`.padStart(
          12,
        ),
        pct(s.falseRejectRate).padStart(9),
        String(s.wrongInOutput).padStart(9),
        pct(s.rerunFraction).padStart(5),
      ].join('  '),
    );
  }
}
console.log(
  `\nsigned results: sign ${signatures.signUs.toFixed(0)} µs, verify ${signatures.verifyUs.toFixed(0)} µs per result (Ed25519, WebCrypto, this machine)`,
);
console.log(
  'overhead = extra unit computations for checks / units; after-excl = same over units opened after the adversary was excluded;',
);
console.log(
  "detect = share of the adversary's wrong results kept out of the final output; units→caught = results it returned until excluded;",
);
console.log(
  'wrong→caught = wrong results it returned until excluded (1 = caught on its first). An adversary that cheats on fraction f',
);
console.log(
  'returns no wrong result at all in its first 20 units with probability (1−f)^20 (0.08% at 30%, 12% at 10%): no policy can catch that earlier.',
);
console.log(
  "early-escapes = runs in which a wrong result among the adversary's first 20 units was accepted, even if re-run later (goal 0).",
);

mkdirSync('bench/results', { recursive: true });
const file = `bench/results/trust-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
writeFileSync(
  file,
  JSON.stringify(
    {
      config: {
        seeds: SEEDS,
        units: UNITS,
        scenarios: SCENARIOS,
        rows: ROWS,
        sizes: SIZES,
        honest: HONEST.map((v) => v.name),
        adversary: ADVERSARY_BACKEND.name,
      },
      summaries,
      signatures,
      runs: rows,
    },
    null,
    1,
  ),
);
console.log(`saved ${file}`);

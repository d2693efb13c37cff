/**
 * npm run bench:train-profile — where a training step of the WASM engine spends its time, per kernel call
 * site (matmuls by shape and direction, attention, layernorm, GELU, AdamW …) and, with threads, per split
 * (the caller's share and the wait for the workers). Drives the shipped backend: a timing wrapper around
 * its Kernels and around the thread pool's post/join.
 *   --preset NAME  (default small)   --steps N (default 6; the first is warm-up and not counted)
 *   --threads N    (default 2)       --json   one JSON object with the per-kernel ms per step
 *   --cpu          the process's CPU time instead of wall time: on a machine shared with other work, the
 *                  1-thread figures without the time sliced away (with threads, the work of all of them)
 */
import { arenaFor, type PresetName, restoreInto, trainStep, WasmBackend } from '@shared/train';
import { spawnNode } from '../web/src/engine/wasm/threads.node.ts';
import { flag, opt } from './lib/args';
import { HP, median, SHAPES, tokensPerS, trainCase } from './train/case';
import { brownText } from './train/corpus';

const preset = opt('preset', 'small') as PresetName;
const steps = Number(opt('steps', '6'));
const threads = Number(opt('threads', '2'));
const clock = flag('cpu')
  ? () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    }
  : () => performance.now();

const c = trainCase(preset, brownText(20), steps, SHAPES[preset]);
const engine = await WasmBackend.create(arenaFor(c.config, c.B, c.T), { threads, spawn: spawnNode });
restoreInto(engine, c.state);

const totals = new Map<string, number>();
let counting = false;
const add = (label: string, ms: number) => {
  if (counting) totals.set(label, (totals.get(label) ?? 0) + ms);
};
const label = (name: string, a: number[]) => {
  if (name === 'matmulForward') return `matmulForward ${a[5]}→${a[6]}`;
  if (name === 'matmulBackward') return `matmulBackward ${a[7]}→${a[8]}`;
  return name;
};
const kernels = engine.kernels as unknown as Record<string, (...a: number[]) => void>;
for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(kernels))) {
  if (name === 'constructor' || typeof kernels[name] !== 'function' || name.startsWith('split')) continue;
  const fn = kernels[name]!.bind(kernels);
  if (name === 'parallel') {
    // Time the wait for the workers separately from the caller's own share.
    const pool = (kernels as unknown as { pool: { join(): void } | null }).pool;
    if (pool !== null) {
      const join = pool.join.bind(pool);
      pool.join = () => {
        const t0 = clock();
        join();
        add('(join: waiting for workers)', clock() - t0);
      };
    }
    continue;
  }
  kernels[name] = (...a: number[]) => {
    const t0 = clock();
    fn(...a);
    add(label(name, a), clock() - t0);
  };
}

const ms: number[] = [];
c.batches.forEach((batch, k) => {
  counting = k > 0;
  const t0 = clock();
  trainStep(engine, batch, HP, k + 1);
  ms.push(clock() - t0);
});
engine.dispose();

const counted = steps - 1;
const rows = [...totals].map(([k, v]) => [k, v / counted] as const).sort((x, y) => y[1] - x[1]);
const stepMs = median(ms.slice(1));
if (flag('json')) {
  console.log(JSON.stringify({ preset, threads, stepMs, tokensPerS: tokensPerS(c.B, c.T, ms), kernels: rows }));
} else {
  console.log(
    `${preset} B=${c.B} T=${c.T}, ${threads} thread(s): step ${stepMs.toFixed(1)} ms median, ${tokensPerS(c.B, c.T, ms).toFixed(0)} tokens/s`,
  );
  const sum = rows.filter(([k]) => !k.startsWith('(')).reduce((s, [, v]) => s + v, 0);
  for (const [k, v] of rows)
    console.log(`  ${k.padEnd(32)} ${v.toFixed(2).padStart(8)} ms  ${((100 * v) / sum).toFixed(1).padStart(5)}%`);
  console.log(`  ${'(kernels total)'.padEnd(32)} ${sum.toFixed(2).padStart(8)} ms`);
}

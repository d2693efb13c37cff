/**
 * npm run bench:train-kernels — the WASM training kernels one by one at the small preset's shapes (N = 512
 * rows, width 256), on one thread, against a baseline build of the same kernels in the same run: the two
 * modules take turns, so a loaded machine slows both alike. Figures are medians and fastest runs; ratio = baseline / this.
 *   --baseline FILE   a kernels.wasm.ts to compare with (e.g. one exported from an older commit);
 *                     without it this build runs against itself
 *   --rounds N        alternations (default 15)   --json   one JSON object per kernel
 *   --only TEXT       kernels whose name contains TEXT   --cpu   CPU time instead of wall time
 */
import { base64urlDecode } from '@shared/bytes';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { trainKernelsModule } from '@shared/train';
import { flag, opt } from './lib/args';
import { median } from './train/case';

type Fn = (...a: number[]) => void;

const N = 512;
const C = 256;
const T = 128;
const B = N / T;
const NH = 8;
const V = 2048;
/** Operands start past the matmuls' packing scratch (at PACK; a module without it ignores the argument). */
const PACK = 1 << 16;
const BASE = 1 << 20;

/** One instance over its own memory, with random operands at fixed addresses. */
function instance(module: WebAssembly.Module) {
  const bytes = 4 * (3 * N * V + 2 * V * C + 2 * B * NH * T * T + 3 * N * 3 * C) + BASE;
  const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536) + 1 });
  const x = new WebAssembly.Instance(module, { env: { memory } }).exports as Record<string, Fn>;
  const f = new Float32Array(memory.buffer);
  let s = 1;
  for (let i = BASE >> 2; i < f.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    f[i] = (s / 2 ** 32 - 0.5) * 0.2;
  }
  return x;
}

/** Byte addresses of the operands: a (N × V), b (N × V), w (V × C), dw (V × C), att scratch, qkv, dqkv. */
const A = BASE;
const Bm = A + 4 * N * V;
const Cm = Bm + 4 * N * V;
const W = Cm + 4 * N * V;
const DW = W + 4 * V * C;
const ATT = DW + 4 * V * C;
const QKV = ATT + 4 * B * NH * T * T;
/** N target ids (0), in the statics' place below BASE. */
const TARGETS = PACK - 4 * N;

interface Case {
  readonly name: string;
  readonly flops: number;
  readonly run: (x: Record<string, Fn>) => void;
}

const cases: Case[] = [];
for (const [cin, cout] of [
  [256, 768],
  [256, 256],
  [256, 1024],
  [1024, 256],
  [256, 2048],
] as const) {
  const f = 2 * N * cin * cout;
  cases.push({
    name: `matmulForward ${cin}→${cout}`,
    flops: f,
    run: (x) => x.matmulForward!(Cm, A, W, DW, N, cin, cout, PACK),
  });
  cases.push({
    name: `matmulBackwardInput ${cin}→${cout}`,
    flops: f,
    run: (x) => x.matmulBackwardInput!(Cm, A, W, N, cin, cout, PACK),
  });
  cases.push({
    name: `matmulBackwardWeight ${cin}→${cout}`,
    flops: f,
    run: (x) => x.matmulBackwardWeight!(DW, W, A, Bm, N, cin, cout, cout, PACK),
  });
}
const attFlops = 4 * B * NH * ((T * (T + 1)) / 2) * (C / NH);
cases.push({
  name: 'attentionForward',
  flops: attFlops,
  run: (x) => x.attentionForward!(Cm, ATT, QKV, B, T, C, NH, 0, NH, PACK),
});
cases.push({
  name: 'attentionBackward',
  flops: 2 * attFlops,
  run: (x) => x.attentionBackward!(Cm, A, QKV, ATT, B, T, C, NH, 0, NH, PACK),
});
cases.push({ name: 'geluForward', flops: 0, run: (x) => x.geluForward!(Cm, A, N * 4 * C) });
cases.push({ name: 'geluBackward', flops: 0, run: (x) => x.geluBackward!(Cm, A, Bm, N * 4 * C) });
cases.push({
  name: 'crossentropyForward',
  flops: 0,
  run: (x) => x.crossentropyForward!(Cm, Bm, A, TARGETS, N, V),
});
cases.push({ name: 'layernormForward', flops: 0, run: (x) => x.layernormForward!(Cm, W, DW, A, Bm, Bm, N, C) });

const baselineFile = opt('baseline', '');
const baseModule = baselineFile
  ? new WebAssembly.Module(
      base64urlDecode(
        ((await import(pathToFileURL(resolve(baselineFile)).href)) as { TRAIN_KERNELS_WASM: string })
          .TRAIN_KERNELS_WASM,
      ) as Uint8Array<ArrayBuffer>,
    )
  : trainKernelsModule();
const sides = [instance(baseModule), instance(trainKernelsModule())];
const rounds = Number(opt('rounds', '15'));
/**
 * --cpu: this process's CPU time instead of wall time, so that time sliced away to other work on a busy
 * machine does not count (the kernels run on this thread alone; cache disturbance still does).
 */
const clock = flag('cpu')
  ? () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    }
  : () => performance.now();
const only = opt('only', '');

for (const c of cases) {
  if (only && !c.name.includes(only)) continue;
  const ms: number[][] = [[], []];
  for (let r = 0; r <= rounds; r++)
    for (let k = 0; k < 2; k++) {
      const t0 = clock();
      c.run(sides[k]!);
      if (r > 0) ms[k]!.push(clock() - t0);
    }
  const [base, now] = ms.map(median) as [number, number];
  // The fastest run of each: on a machine shared with other work, the least disturbed estimate.
  const [baseMin, nowMin] = ms.map((xs) => Math.min(...xs)) as [number, number];
  const gf = (t: number) => (c.flops > 0 ? (c.flops / t / 1e6).toFixed(1) : '-');
  if (flag('json'))
    console.log(JSON.stringify({ kernel: c.name, baselineMs: base, ms: now, ratio: base / now, baseMin, nowMin }));
  else
    console.log(
      `${c.name.padEnd(30)} base ${base.toFixed(2).padStart(7)} ms ${gf(base).padStart(6)} GF/s   now ${now.toFixed(2).padStart(7)} ms ${gf(now).padStart(6)} GF/s   ×${(base / now).toFixed(2)}   fastest ${gf(baseMin)} → ${gf(nowMin)} ×${(baseMin / nowMin).toFixed(2)}`,
    );
}

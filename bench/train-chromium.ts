/**
 * npm run bench:train-chromium — bench:train in Chromium: the training engine against its TF.js twin (same
 * network, initial weights, data order and AdamW maths; bench/train/case.ts) with 2 threads on both sides
 * on WASM (the page is cross-origin isolated: the engine's worker threads and tfjs-backend-wasm's
 * setThreadsCount both need SharedArrayBuffer), and on WebGPU (the engine's WGSL against
 * tfjs-backend-webgpu). It builds the app with its harness pages (vite build --mode test), serves the build
 * with the real signaling server on a loopback port (as playwright.config.ts's webServer does), drives
 * web/harness/train-bench.html in /usr/bin/chromium (one page load per case) and prints the rows.
 *   --quick        WASM: matmul 256/512/1024, small preset 8 steps; WebGPU: matmul 128, tiny preset 8 steps
 *                  at 2×32 tokens. WebGPU here is SwiftShader (CPU, ~100× slower than WASM): its rows check
 *                  plumbing and losses, they are no speed claim. Fits 10 minutes on 2 cores.
 *   (default)      WASM: matmul up to 2048, tiny and small presets 50 steps; WebGPU: matmul 128/256, tiny
 *                  preset 50 steps at 2×32 tokens
 *   --json         one JSON object per case on stdout
 *   --steps N      training steps for every case (losses are compared after the same seeded steps)
 *   --threads N    threads on each side on WASM (default 2)
 *   --backends a,b wasm,webgpu (default both); --no-matmul skips the matmul rows, --no-train the training
 *   --no-build     serve the last build (dist/bench-train-chromium) as it is
 * Figures are medians over steps (training, first step left out) or repeats (matmul, first left out);
 * ratios are engine / TF.js in this run. A row's lossDiff over LOSS_TOLERANCE is flagged, not hidden.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { build } from 'vite';
import type { PresetName } from '@shared/train';
import type {
  BenchBackend,
  MatmulBenchReply,
  MatmulBenchRequest,
  TrainBenchReply,
  TrainBenchRequest,
} from '../web/harness/train-bench';
import { launchChromium } from './lib/browser';
import { CORPUS_FILES, matmulLine, matmulRepeats, SHAPES, trainLine } from './train/case';
import { brownText } from './train/corpus';
import { args, flag, opt } from './lib/args';

const REPO = resolve(import.meta.dirname, '..');
const OUT_DIR = 'dist/bench-train-chromium';
/** Issue 18's bar for the engine and the twin after the same seeded steps. */
const LOSS_TOLERANCE = 1e-3;
/**
 * SwiftShader runs a tiny-preset step of 2×32 tokens in seconds (DESIGN.md: ~0.1–0.3 GFLOP/s); the
 * WASM shapes (8×64) would take minutes a step there.
 */
const GPU_SHAPE = { B: 2, T: 32 };

const QUICK = flag('quick');
const JSON_OUT = flag('json');
const STEPS = args.includes('--steps') ? Number(opt('steps', '50')) : QUICK ? 8 : 50;
const THREADS = Number(opt('threads', '2'));
const BACKENDS = opt('backends', 'wasm,webgpu').split(',') as BenchBackend[];

interface Plan {
  readonly backend: BenchBackend;
  readonly matmuls: number[];
  readonly presets: PresetName[];
  readonly shape: (p: PresetName) => { B: number; T: number };
}

const PLANS: Plan[] = [
  {
    backend: 'wasm',
    matmuls: QUICK ? [256, 512, 1024] : [256, 512, 1024, 2048],
    presets: QUICK ? ['small'] : ['tiny', 'small'],
    shape: (p) => SHAPES[p],
  },
  { backend: 'webgpu', matmuls: QUICK ? [128] : [128, 256], presets: ['tiny'], shape: () => GPU_SHAPE },
];

const log = (s: string) => {
  if (!JSON_OUT) console.log(s);
};
const emit = (row: object) => {
  if (JSON_OUT) console.log(JSON.stringify(row));
};

/** The real server on a free loopback port; resolves with its port once it says where it listens. */
function startServer(staticDir: string): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'signaling/src/main.ts', '--port', '0', '--host', '127.0.0.1', '--static', staticDir],
    { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOG_LEVEL: 'warn' } },
  );
  return new Promise((done, fail) => {
    let seen = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const m = /Open http:\/\/[^:]+:(\d+)\//.exec(seen);
      if (m) done({ port: Number(m[1]), child });
    });
    child.on('exit', (code) => fail(new Error(`the server exited (${code}): ${seen.trim()}`)));
  });
}

if (!flag('no-build')) {
  log(`building the app with its harness pages (vite build --mode test) into ${OUT_DIR}`);
  process.env.WEB_OUT_DIR = OUT_DIR;
  // Unminified: tfjs-backend-wasm starts its pthreads from its factory's toString(), and the minifier
  // leaves that function naming bindings outside it ("e is not defined" in every TF.js thread, then a hang).
  await build({
    configFile: resolve(REPO, 'vite.config.ts'),
    mode: 'test',
    logLevel: 'error',
    build: { minify: false },
  });
}
const server = await startServer(OUT_DIR);
// localhost, not 127.0.0.1: the secure context WebGPU needs.
const pageUrl = `http://localhost:${server.port}/harness/train-bench.html`;
const browser = await launchChromium();
const text = brownText(CORPUS_FILES);
let failures = 0;

async function onPage<T>(run: (page: import('playwright-core').Page) => Promise<T>): Promise<T> {
  const page = await browser.newPage();
  page.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') process.stderr.write(`page ${m.type()}: ${m.text()}\n`);
  });
  try {
    await page.goto(pageUrl);
    await page.waitForFunction(() => window.trainBench !== undefined);
    return await run(page);
  } finally {
    await page.close();
  }
}

function checkInfo(backend: BenchBackend, info: TrainBenchReply['info']) {
  if (!info.isolated) throw new Error('the page is not cross-origin isolated: no threads');
  if (backend === 'wasm' && info.tfjsThreads !== THREADS)
    throw new Error(
      `TF.js runs ${info.tfjsThreads} threads, not ${THREADS} (its checks: SIMD ${info.tfjsWasmSimd}, ` +
        `threads ${info.tfjsWasmThreads}; ${info.logicalCores} logical cores)`,
    );
}

try {
  log(`Chromium ${browser.version()} (${pageUrl}); ${THREADS} threads on each side on WASM`);
  for (const plan of PLANS.filter((p) => BACKENDS.includes(p.backend))) {
    for (const n of flag('no-matmul') ? [] : plan.matmuls) {
      const request: MatmulBenchRequest = {
        n,
        backend: plan.backend,
        threads: THREADS,
        repeats: plan.backend === 'webgpu' ? 5 : matmulRepeats(n),
      };
      try {
        const reply: MatmulBenchReply = await onPage((p) => p.evaluate((r) => window.trainBench!.matmul(r), request));
        checkInfo(plan.backend, reply.info);
        emit(reply.row);
        log(`${matmulLine(reply.row)}   (${reply.info.engine}; TF.js ${reply.info.tfjs})`);
      } catch (err) {
        failures++;
        process.stderr.write(`matmul-${n} ${plan.backend}: ${String(err)}\n`);
      }
    }
    for (const preset of flag('no-train') ? [] : plan.presets) {
      const request: TrainBenchRequest = {
        preset,
        backend: plan.backend,
        steps: STEPS,
        ...plan.shape(preset),
        threads: THREADS,
        text,
      };
      try {
        const reply: TrainBenchReply = await onPage((p) => p.evaluate((r) => window.trainBench!.train(r), request));
        checkInfo(plan.backend, reply.info);
        const ok = reply.row.lossDiff <= LOSS_TOLERANCE;
        if (!ok) {
          failures++;
          const f = (xs: number[]) => xs.map((x) => x.toFixed(6)).join(' ');
          process.stderr.write(
            `train-${preset} ${plan.backend}: losses part by more than ${LOSS_TOLERANCE}; step by step\n` +
              `  engine ${f(reply.stepLosses.engine)}\n  TF.js  ${f(reply.stepLosses.tfjs)}\n`,
          );
        }
        const reference =
          reply.lossEngineWasm === null ? {} : { lossEngineWasm: Number(reply.lossEngineWasm.toFixed(6)) };
        emit({ ...reply.row, ...reference });
        log(
          `${trainLine(reply.row)}${ok ? '' : `  OVER ${LOSS_TOLERANCE}`}\n` +
            (reply.lossEngineWasm === null
              ? ''
              : `             the engine on WASM after the same steps: ${reference.lossEngineWasm}\n`) +
            `             ${reply.row.batch}×${reply.row.context} tokens a step; first steps (not counted): ` +
            `engine ${reply.firstStepMs.engine.toFixed(0)} ms, TF.js ${reply.firstStepMs.tfjs.toFixed(0)} ms ` +
            `(${reply.info.engine}; TF.js ${reply.info.tfjs}, ${reply.info.tfjsThreads} threads)`,
        );
      } catch (err) {
        failures++;
        process.stderr.write(`train-${preset} ${plan.backend}: ${String(err)}\n`);
      }
    }
  }
} finally {
  await browser.close();
  server.child.kill('SIGTERM');
}
process.exitCode = failures > 0 ? 1 : 0;

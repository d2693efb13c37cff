/** Tunables of the compute layer, each with where its value comes from. */

/**
 * Threads for onnxruntime's WASM EP: all cores but one (the page, WebRTC and the
 * browser need one to stay responsive), at most 4 — onnxruntime-web's own
 * default cap, past which its matmuls stop scaling on browser thread pools.
 * Without cross-origin isolation there is no SharedArrayBuffer and so 1.
 */
export const MAX_WASM_THREADS = 4;

/**
 * Largest single buffer the WASM backend can take. The wasm32 heap tops out at
 * 4 GiB and onnxruntime holds input, output and weights in it at once, so a
 * tensor above half of it cannot run.
 */
export const WASM_MAX_BUFFER_BYTES = 2 * 1024 ** 3;

/** Rows of matmul-256 in the first, sizing run of a benchmark (1 MFLOP: ~5 ms on SwiftShader WebGPU at 0.2 GFLOP/s). */
export const BENCH_PROBE_ROWS = 4;
/**
 * Each timed run should take about this long: long enough that the ~0.3 ms fixed
 * cost per run (feeds, dispatch, read-back; measured here) is noise.
 */
export const BENCH_TARGET_RUN_MS = 10;
/** Sizing runs stop once a run takes at least this fraction of the target. */
export const BENCH_SIZING_FRACTION = 0.5;
/** At most this many sizing runs (each doubles as a warm-up). */
export const BENCH_SIZING_STEPS = 4;
/** Row bounds for timed runs: 1024 rows is 134 MFLOP (1 MiB of input), ~6 ms at the ~20 GFLOP/s WASM reaches here. */
export const BENCH_MIN_ROWS = 4;
export const BENCH_MAX_ROWS = 1024;
/** Timed runs per backend (median of these), and the wall-clock budget they must fit in. */
export const BENCH_RUNS = 5;
export const BENCH_BUDGET_MS = 300;

/**
 * Choose WebGPU when it reaches this fraction of WASM's speed: work on the GPU
 * leaves the CPU to the page, the data channels and the volunteer's own use.
 */
export const WEBGPU_PREFERENCE = 0.9;

/**
 * Worker start-up: fetching and compiling onnxruntime's ~28 MB wasm took
 * 1–3 s in headless Chromium here; 60 s allows for slow disks and machines.
 */
export const WORKER_INIT_TIMEOUT_MS = 60_000;

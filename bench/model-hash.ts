/**
 * bench:model-hash — which hash names a model version. Hashes the float
 * weights of a split ONNX model (shared/src/tensor/onnx-weights.ts) with the
 * content hash PULSE ships (xxh3-128 over tensor headers and bits, `hashModel`)
 * and with SHA-256 over the same bytes (WebCrypto, as the model store used),
 * in one process, alternating, medians of the repeats. `--quick` hashes 8 MiB
 * instead of 64 MiB; `--json` prints one object per size.
 */
import { encodeModel, floatInitializer, node } from '@shared/models/onnx-builder';
import { hashModel } from '@shared/pulse';
import { splitOnnx } from '@shared/tensor';

const quick = process.argv.includes('--quick');
const json = process.argv.includes('--json');
const SIZES_MIB = quick ? [1, 8] : [1, 8, 64];
const REPEATS = quick ? 5 : 9;

function weightsModel(mib: number): Uint8Array {
  const n = (mib * 1024 * 1024) / 4;
  const side = Math.floor(Math.sqrt(n));
  const w = new Float32Array(side * side);
  let x = 0x9e3779b9;
  for (let i = 0; i < w.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    w[i] = ((x >>> 0) / 2 ** 32 - 0.5) * 0.02;
  }
  return encodeModel({
    name: 'hash-bench',
    inputs: [{ name: 'x', dtype: 'float32', dims: ['batch', side] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: ['batch', side] }],
    nodes: [node('MatMul', ['x', 'W'], ['y'])],
    initializers: [floatInitializer('W', [side, side], w)],
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

for (const mib of SIZES_MIB) {
  const parts = splitOnnx(weightsModel(mib), 1 << 30);
  const tensor = parts.weights.tensors[0]!;
  const bytes = new Uint8Array(tensor.data.byteLength);
  bytes.set(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
  await hashModel(parts.weights);
  await crypto.subtle.digest('SHA-256', bytes);
  const xxh: number[] = [];
  const sha: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    let t = performance.now();
    await hashModel(parts.weights);
    xxh.push(performance.now() - t);
    t = performance.now();
    await crypto.subtle.digest('SHA-256', bytes);
    sha.push(performance.now() - t);
  }
  const mb = bytes.length / 1e6;
  const row = {
    case: `hash-${mib}MiB`,
    bytes: bytes.length,
    xxh3MBps: mb / (median(xxh) / 1000),
    sha256MBps: mb / (median(sha) / 1000),
    ratio: median(sha) / median(xxh),
  };
  if (json) console.log(JSON.stringify(row));
  else
    console.log(
      `${row.case.padEnd(12)} xxh3-128 ${row.xxh3MBps.toFixed(0).padStart(6)} MB/s   SHA-256 ${row.sha256MBps.toFixed(0).padStart(6)} MB/s   xxh3 is ${row.ratio.toFixed(1)}× faster`,
    );
}

/**
 * Algebraic verification (SPEC TRUST-F1..F5): results of a model whose output
 * is a known matrix product are checked with Freivalds' test in O(rounds·n²)
 * instead of re-running the model. Today that is the built-in `matmul-256`
 * (Y = X·W): W is the model's own weight, recovered once as I·W from its
 * reference implementation, so it cannot drift from what providers run.
 */
import { jobVerification, type JobSpec } from '../job';
import { matmul256 } from '../../models';
import type { RawTensor } from '../../protocol/peer';
import { cryptoRandom, freivaldsCheck, type Matrix, type RandomSource } from '../../trust';

/** `rounds`: how many Freivalds rounds the job's false-accept probability called for. */
export type AlgebraicVerdict = { ok: true; rounds: number } | { ok: false; reason: string };
export type AlgebraicCheck = (inputs: readonly RawTensor[], outputs: readonly RawTensor[]) => AlgebraicVerdict;

let matmulWeight: Matrix | undefined;

function matmul256Weight(): Matrix {
  if (matmulWeight) return matmulWeight;
  const n = Number(matmul256.inputs[0]!.dims[1]);
  const identity = new Float32Array(n * n);
  for (let i = 0; i < n; i++) identity[i * n + i] = 1;
  // Each output entry is one 1·w term plus exact zeros: I·W is W bit for bit.
  const y = matmul256.reference({ x: { dtype: 'float32', dims: [n, n], data: identity } }).y!;
  matmulWeight = { rows: n, cols: n, data: Float32Array.from(y.data as ArrayLike<number>) };
  return matmulWeight;
}

function asMatrix(t: RawTensor): Matrix | undefined {
  if (t.dtype !== 'float32' || t.dims.length !== 2) return undefined;
  const [rows, cols] = t.dims as [number, number];
  if (t.bytes.length !== rows * cols * 4) return undefined;
  return { rows, cols, data: new Float32Array(t.bytes.slice().buffer) };
}

/** The check for this job's model at the job's false-accept probability, or undefined when its results can only be checked by re-execution. */
export function algebraicCheckFor(spec: JobSpec, rng: RandomSource = cryptoRandom()): AlgebraicCheck | undefined {
  if (spec.model.builtinId !== matmul256.id) return undefined;
  const { falseAcceptProbability } = jobVerification(spec);
  return (inputs, outputs) => {
    const a = inputs[0] && asMatrix(inputs[0]);
    const c = outputs[0] && asMatrix(outputs[0]);
    const b = matmul256Weight();
    if (!a || !c || a.cols !== b.rows || c.rows !== a.rows || c.cols !== b.cols)
      return { ok: false, reason: "output is not a matrix of the product's shape" };
    const result = freivaldsCheck(a, b, c, { falseAcceptProbability, rng });
    return result.ok
      ? { ok: true, rounds: result.rounds }
      : {
          ok: false,
          reason: `Freivalds check failed (row ${result.row}, residual ${result.residual.toExponential(2)} > ${result.tolerance.toExponential(2)})`,
        };
  };
}

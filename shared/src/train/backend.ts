/**
 * A backend owns the one buffer an Arena describes and the kernels that work
 * in it. The step (step.ts) only talks to this interface, so the float64
 * reference, the f32 JS path, WASM and WebGPU run the same list of calls.
 */
import type { Kernels } from './kernels';
import type { Arena } from './layout';
import { JsKernels } from './jsKernels';

export interface Backend {
  readonly name: string;
  readonly arena: Arena;
  readonly kernels: Kernels;
  /** Copies values into slots [at, at + data.length) (rounded to the backend's precision). */
  writeFloats(at: number, data: ArrayLike<number>): void;
  /** Copies n slots out (as float64, so the reference loses nothing). */
  readFloats(at: number, n: number): Float64Array;
  writeInts(at: number, data: ArrayLike<number>): void;
}

/** The reference kernels on a typed array of the arena's size. */
export class JsBackend implements Backend {
  readonly kernels: JsKernels;
  readonly f: Float32Array | Float64Array;

  constructor(
    readonly arena: Arena,
    readonly precision: 'f64' | 'f32',
  ) {
    if (precision === 'f64') {
      this.f = new Float64Array(arena.size);
      this.kernels = new JsKernels(this.f, new Int32Array(arena.size));
    } else {
      const buf = new ArrayBuffer(arena.size * 4);
      this.f = new Float32Array(buf);
      this.kernels = new JsKernels(this.f, new Int32Array(buf));
    }
  }

  get name(): string {
    return `js-${this.precision}`;
  }

  writeFloats(at: number, data: ArrayLike<number>) {
    this.f.set(data, at);
  }
  readFloats(at: number, n: number): Float64Array {
    return Float64Array.from(this.f.subarray(at, at + n));
  }
  writeInts(at: number, data: ArrayLike<number>) {
    this.kernels.i.set(data, at);
  }
}

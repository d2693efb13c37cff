/**
 * Adapter class: what decides how closely two honest results must agree.
 * Two providers of one class run the same kernels in the same order; across
 * classes summation order, FMA and transcendentals differ.
 * The class is self-reported, so it can only *tighten* what an adversary must
 * match: claiming another class buys it at most the cross-class tolerance,
 * which is therefore the real bound against a cheater (SPEC TRUST-C4).
 */
import { CROSS_CLASS_TOLERANCE, HALF_PRECISION_TOLERANCE, SAME_CLASS_TOLERANCE } from './constants';

export type Precision = 'f32' | 'f16';

export interface AdapterDescription {
  backend: string; // 'webgpu' | 'wasm' | 'cpu' | ...
  vendor?: string;
  architecture?: string;
  precision?: Precision;
}

/** An element passes when |a−b| ≤ atol·scale + rtol·max(|a|,|b|); see compare.ts for scale. */
export interface Tolerance {
  rtol: number;
  atol: number;
}

export interface ToleranceTable {
  sameClass: Tolerance;
  crossClass: Tolerance;
  halfPrecision: Tolerance;
}

export const DEFAULT_TOLERANCES: ToleranceTable = {
  sameClass: { ...SAME_CLASS_TOLERANCE },
  crossClass: { ...CROSS_CLASS_TOLERANCE },
  halfPrecision: { ...HALF_PRECISION_TOLERANCE },
};

function norm(text: string | undefined): string {
  return (
    (text ?? '')
      .trim()
      .toLowerCase()
      .replace(/[^a-z0-9._-]/g, '_')
      .slice(0, 64) || 'unknown'
  );
}

/** "backend/vendor/architecture/precision", lower-cased; WASM's vendor and architecture are the CPU's, usually unknown. */
export function adapterClassKey(adapter: AdapterDescription): string {
  return [norm(adapter.backend), norm(adapter.vendor), norm(adapter.architecture), adapter.precision ?? 'f32'].join(
    '/',
  );
}

function isHalf(classKey: string): boolean {
  return classKey.endsWith('/f16');
}

/** The tolerance two results must meet, from their adapter classes. */
export function toleranceFor(classA: string, classB: string, table: ToleranceTable = DEFAULT_TOLERANCES): Tolerance {
  if (isHalf(classA) || isHalf(classB)) return table.halfPrecision;
  if (classA === classB && !classA.includes('unknown')) return table.sameClass;
  return table.crossClass;
}

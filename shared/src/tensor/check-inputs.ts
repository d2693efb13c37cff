import { InputMismatchError } from './errors';
import type { Tensor, TensorMap, TensorSpec } from './types';

const show = (dims: readonly (number | string)[]) => `[${dims.join(', ')}]`;

/**
 * Checks that `inputs` are exactly the model's declared inputs with matching
 * dtypes and shapes. A symbolic dim (e.g. "N") may take any size but must take
 * the same size in every input that names it. Returns the symbol bindings.
 */
export function checkInputs(specs: readonly TensorSpec[], inputs: TensorMap): Record<string, number> {
  const bindings: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const name of Object.keys(inputs)) {
    if (!specs.some((s) => s.name === name)) {
      throw new InputMismatchError(
        'unknown-input',
        name,
        `unknown input "${name}"; the model's inputs are ${specs.map((s) => `"${s.name}"`).join(', ')}`,
      );
    }
  }
  for (const spec of specs) {
    const t: Tensor | undefined = Object.hasOwn(inputs, spec.name) ? inputs[spec.name] : undefined;
    if (!t)
      throw new InputMismatchError(
        'missing-input',
        spec.name,
        `input "${spec.name}" is missing: expected ${spec.dtype}${show(spec.dims)}`,
      );
    if (t.dtype !== spec.dtype) {
      throw new InputMismatchError(
        'wrong-dtype',
        spec.name,
        `input "${spec.name}": expected dtype ${spec.dtype}, got ${t.dtype}`,
      );
    }
    if (t.dims.length !== spec.dims.length) {
      throw new InputMismatchError(
        'wrong-rank',
        spec.name,
        `input "${spec.name}": expected shape ${show(spec.dims)} (rank ${spec.dims.length}), got ${show(t.dims)} (rank ${t.dims.length})`,
      );
    }
    spec.dims.forEach((want, axis) => {
      const got = t.dims[axis]!;
      if (typeof want === 'number') {
        if (want >= 0 && got !== want) {
          throw new InputMismatchError(
            'wrong-dim',
            spec.name,
            `input "${spec.name}": expected shape ${show(spec.dims)}, got ${show(t.dims)} (axis ${axis} must be ${want})`,
          );
        }
      } else if (want !== '?' && want !== '') {
        const bound = bindings[want];
        if (bound === undefined) bindings[want] = got;
        else if (bound !== got) {
          throw new InputMismatchError(
            'inconsistent-dim',
            spec.name,
            `input "${spec.name}": axis ${axis} ("${want}") is ${got} but another input has ${want} = ${bound}`,
          );
        }
      }
    });
    const count = t.dims.reduce((a, b) => a * b, 1);
    if (t.data.length !== count) {
      throw new InputMismatchError(
        'wrong-length',
        spec.name,
        `input "${spec.name}": shape ${show(t.dims)} needs ${count} values, the data has ${t.data.length}`,
      );
    }
  }
  return bindings;
}

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** shared/ runs in the browser, in workers and in Node: its code may import only portable packages. */
// hash-wasm: xxh3-128 in WebAssembly, which runs in every realm shared/ does (PULSE hashes with it too).
const PORTABLE_PACKAGES = new Set(['valibot', 'onnx-proto', 'hash-wasm']);
const DIRS = ['shared/src/tensor', 'shared/src/models'];

describe('tensor and models stay portable', () => {
  for (const dir of DIRS) {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
      it(`${dir}/${file} imports no DOM, Node or browser-only module`, () => {
        const source = readFileSync(join(dir, file), 'utf8');
        const specifiers = [...source.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map(
          (m) => m[1]!,
        );
        for (const spec of specifiers) {
          if (spec.startsWith('.'))
            expect(spec, `${file}: relative imports stay inside shared/`).not.toMatch(/\.\.\/\.\.\//);
          else expect(PORTABLE_PACKAGES.has(spec), `${file} imports ${spec}`).toBe(true);
        }
        expect(source, `${file} touches a DOM or Node global`).not.toMatch(
          /\b(document|window|process|Buffer|require)\s*[.(]/,
        );
      });
    }
  }
});

/** Reading the source's import graph, for the tests that check the layout. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const SHARED = join(ROOT, 'shared/src');

/** npm packages shared/ may use: pure JS or WebAssembly that runs in every realm. */
export const SHARED_PACKAGES = new Set(['valibot', 'hash-wasm', 'onnx-proto', '@noble/curves/ed25519.js']);

export function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.tsx?$/.test(f) && !/\.test\.tsx?$/.test(f) && !f.includes('testing'))
    .map((f) => join(dir, f));
}

/** Source without comments and string contents, so a word in a comment or message is not taken for code. */
export function code(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g, "''");
}

export function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
  return [...text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]!);
}

/** The file an import names, or undefined for a package. */
export function resolveImport(from: string, spec: string): string | undefined {
  let base: string;
  if (spec.startsWith('@shared/')) base = join(SHARED, spec.slice('@shared/'.length));
  else if (spec.startsWith('.')) base = resolve(dirname(from), spec);
  else return undefined;
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts')])
    if (existsSync(candidate) && candidate.match(/\.tsx?$/)) return candidate;
  throw new Error(`${relative(ROOT, from)}: cannot resolve ${spec}`);
}

/** Every file reachable from `entries`, with the packages each imports. */
export function closure(entries: string[]): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const stack = [...entries];
  while (stack.length) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    const packages: string[] = [];
    seen.set(file, packages);
    for (const spec of importsOf(file)) {
      const target = resolveImport(file, spec);
      if (target) stack.push(target);
      else packages.push(spec);
    }
  }
  return seen;
}

/**
 * The layout's rules, checked on the source: shared/ is plain TypeScript for
 * browser, worker and Node (no DOM, no Node-only API, no framework), its
 * modules import each other without cycles (type-only imports included), and
 * the cores — the requester's coordinator shell, the provider, the weights
 * core — import no React, so a test or a worker can run them without a page.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { closure, code, importsOf, resolveImport, ROOT, SHARED, SHARED_PACKAGES, sources } from './support/imports';

function findCycle(files: string[]): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string): string[] | undefined => {
    if (state.get(file) === 'done') return undefined;
    if (state.get(file) === 'open') return [...path.slice(path.indexOf(file)), file];
    state.set(file, 'open');
    path.push(file);
    for (const spec of importsOf(file)) {
      const target = resolveImport(file, spec);
      if (!target?.startsWith(SHARED)) continue;
      // A folder's index re-exports its files; going through it is not a cycle of the code itself.
      if (target.endsWith('index.ts') && dirname(target) !== dirname(file)) continue;
      const cycle = visit(target);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(file, 'done');
    return undefined;
  };
  for (const file of files) {
    const cycle = visit(file);
    if (cycle) return cycle.map((f) => relative(SHARED, f));
  }
  return undefined;
}

describe('layout', () => {
  const shared = sources(SHARED);

  it('LAYOUT1: shared/ imports only itself and runtime-neutral packages, and uses no DOM or Node-only API', () => {
    expect(shared.length).toBeGreaterThan(50);
    for (const file of shared) {
      const name = relative(ROOT, file);
      for (const spec of importsOf(file)) {
        const ok = spec.startsWith('.') || spec.startsWith('@shared/') || SHARED_PACKAGES.has(spec);
        expect(ok, `${name} imports ${spec}`).toBe(true);
      }
      const body = code(readFileSync(file, 'utf8'));
      expect(body, name).not.toMatch(
        /\b(window|document|localStorage|sessionStorage|indexedDB|Buffer|process|require|__dirname)\b/,
      );
    }
  });

  it('LAYOUT2: no import cycle inside shared/, type-only imports included', () => {
    expect(findCycle(shared)).toBeUndefined();
  });

  it('LAYOUT3: the requester shell, the provider core, the weights core and the trainer import no React', () => {
    const entries = [
      'web/src/requester/job-runner.ts',
      'web/src/requester/templar.ts',
      'web/src/provider/provider-node.ts',
      'web/src/weights/index.ts',
      'web/src/train/trainer.ts',
    ].map((f) => join(ROOT, f));
    const reached = closure(entries);
    expect(reached.size).toBeGreaterThan(30);
    for (const [file, packages] of reached) {
      const name = relative(ROOT, file);
      expect(file.endsWith('.tsx'), `${name} is a React component`).toBe(false);
      for (const p of packages) expect(p.startsWith('react'), `${name} imports ${p}`).toBe(false);
    }
  });

  it('LAYOUT4: outside shared/, code reaches shared/ only through @shared/<folder>, never by a relative path', () => {
    for (const dir of ['web', 'signaling', 'e2e', 'bench', 'tests'])
      for (const file of sources(join(ROOT, dir)))
        for (const spec of importsOf(file))
          expect(spec.includes('shared/src'), `${relative(ROOT, file)} imports ${spec}`).toBe(false);
  });
});

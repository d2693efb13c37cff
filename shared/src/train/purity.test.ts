import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const dir = new URL('./', import.meta.url);
const sources = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter(
  (f) => f.endsWith('.ts') && !f.endsWith('.test.ts'),
);

describe('training core stays portable', () => {
  it('TRAIN-X1: train sources import no Node, DOM or framework modules and stay small', () => {
    expect(sources.length).toBeGreaterThan(10);
    for (const file of sources) {
      const text = readFileSync(new URL(file, dir), 'utf8');
      for (const m of text.matchAll(/from '([^']+)'/g))
        expect(m[1]!.startsWith('.'), `${file} imports ${m[1]}`).toBe(true);
      expect(text, file).not.toMatch(/\b(window|document|localStorage|indexedDB|Buffer|process)\b\./);
      expect(text.split('\n').length, file).toBeLessThan(400);
    }
  });
});

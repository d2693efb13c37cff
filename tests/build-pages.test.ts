/** Issue 21 #9: the production build leaves the test harness pages out; the e2e suite builds the test mode that keeps them. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pageInputs, TEST_MODE } from '../vite.config';
import { ROOT } from './support/imports';

describe('built pages', () => {
  it('BUILD1: `npm run build` builds only the app page', () => {
    expect(Object.keys(pageInputs(false))).toEqual(['index']);
  });

  it('BUILD2: the test build keeps every harness page, and the e2e server builds in that mode', () => {
    const inputs = Object.keys(pageInputs(true));
    expect(inputs).toContain('index');
    expect(inputs).toEqual(expect.arrayContaining(['harness-compute', 'harness-transport', 'harness-adversary']));
    const playwright = readFileSync(join(ROOT, 'playwright.config.ts'), 'utf8');
    expect(playwright).toMatch(new RegExp(`vite build --mode ${TEST_MODE}\\b`));
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.build).not.toMatch(/--mode test/);
  });
});

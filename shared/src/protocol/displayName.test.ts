import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { checkDisplayName, DISPLAY_NAME_MAX_CHARS, DisplayNameSchema } from './displayName';

const problem = (name: string) => {
  const r = checkDisplayName(name);
  return r.ok ? 'ok' : r.problem;
};

describe('display names', () => {
  it('NAME1: ordinary names in one script (or one language’s scripts) pass', () => {
    for (const name of [
      'Ada',
      'gpu-farm_42',
      'Zoë',
      'Nguyễn Văn A',
      'Мария',
      'Ελένη',
      '山田 太郎',
      'やまだ',
      '김민준',
      'علي',
    ])
      expect(problem(name), name).toBe('ok');
  });

  it('NAME1: length is counted in code points: 1 to 32', () => {
    expect(problem('')).toBe('empty');
    expect(problem('a'.repeat(DISPLAY_NAME_MAX_CHARS))).toBe('ok');
    expect(problem('a'.repeat(DISPLAY_NAME_MAX_CHARS + 1))).toBe('too-long');
    expect(problem('🙂'.repeat(DISPLAY_NAME_MAX_CHARS))).toBe('ok'); // 64 UTF-16 units, 32 characters
  });

  it('NAME1: control, bidi, zero-width, private-use characters and odd spaces are refused', () => {
    for (const name of [
      'a\u0000b',
      'evil\u202Egnp.exe',
      'pay\u200Bpal',
      'a\uE000',
      'a\u00A0b',
      'line\u2028break',
      'tab\tx',
    ])
      expect(problem(name), JSON.stringify(name)).toBe('control');
    expect(problem('q\u0301\u0302\u0303')).toBe('control'); // zalgo: 3 marks on one base
  });

  it('NAME1: leading, trailing and double spaces are refused', () => {
    for (const name of [' Ada', 'Ada ', 'A  da']) expect(problem(name)).toBe('spacing');
  });

  it('NAME1: compatibility forms that imitate plain names are refused', () => {
    for (const name of ['Ａｄａ', 'ﬁnn', 'x²']) expect(problem(name), name).toBe('not-normalized');
  });

  it('NAME1: letters mixing look-alike scripts are refused (Latin "paypal" with a Cyrillic "а")', () => {
    expect(problem('p\u0430ypal')).toBe('mixed-scripts');
    expect(problem('Ελenа')).toBe('mixed-scripts');
  });

  it('NAME1: the schema applies the same rules at a trust boundary', () => {
    expect(v.is(DisplayNameSchema, 'Ada')).toBe(true);
    expect(v.is(DisplayNameSchema, 'p\u0430ypal')).toBe(false);
    expect(v.is(DisplayNameSchema, 42)).toBe(false);
  });
});

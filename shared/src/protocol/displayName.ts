/**
 * Display names (for the volunteers' leaderboard names): checked at every trust
 * boundary with `DisplayNameSchema`, so a name cannot hide control or bidi
 * characters, impersonate another by mixing look-alike scripts, or hide in
 * compatibility forms (fullwidth, ligatures). Rules are in signaling SPEC NAME1.
 */
import * as v from 'valibot';

/** Code points, not UTF-16 units: a leaderboard column, and short enough to read at a glance. */
export const DISPLAY_NAME_MAX_CHARS = 32;

/** Combining marks allowed on one base character: real scripts use ≤ 2 (Vietnamese); more is "zalgo" text. */
const MAX_MARKS_PER_BASE = 2;

export type DisplayNameProblem = 'empty' | 'too-long' | 'control' | 'spacing' | 'not-normalized' | 'mixed-scripts';

/** Scripts whose letters may share a name: each alone, or the combinations one language writes together. */
const SCRIPTS = [
  'Latin',
  'Cyrillic',
  'Greek',
  'Armenian',
  'Georgian',
  'Hebrew',
  'Arabic',
  'Devanagari',
  'Bengali',
  'Tamil',
  'Thai',
  'Han',
  'Hiragana',
  'Katakana',
  'Hangul',
] as const;
type Script = (typeof SCRIPTS)[number] | 'Other';
const SCRIPT_RE = SCRIPTS.map((s) => [s, new RegExp(`^\\p{Script=${s}}$`, 'u')] as const);
const ALLOWED_TOGETHER: readonly ReadonlySet<Script>[] = [
  new Set(['Han', 'Hiragana', 'Katakana']),
  new Set(['Han', 'Hangul']),
];

function scriptOf(ch: string): Script {
  for (const [name, re] of SCRIPT_RE) if (re.test(ch)) return name;
  return 'Other';
}

/** `ok` with the name, or the first problem found. Never throws. */
export function checkDisplayName(
  name: string,
): { ok: true; name: string } | { ok: false; problem: DisplayNameProblem; message: string } {
  const fail = (problem: DisplayNameProblem, message: string) => ({ ok: false as const, problem, message });
  const chars = [...name];
  if (chars.length === 0) return fail('empty', 'a display name needs at least one character');
  if (chars.length > DISPLAY_NAME_MAX_CHARS)
    return fail('too-long', `at most ${DISPLAY_NAME_MAX_CHARS} characters, got ${chars.length}`);
  // Control, format (bidi overrides, zero-width), private-use, unassigned and surrogates; line/paragraph separators; odd spaces.
  if (/[\p{C}\p{Zl}\p{Zp}]|[^\P{Zs} ]/u.test(name))
    return fail('control', 'control, invisible or unusual space characters are not allowed');
  if (name !== name.trim() || name.includes('  ')) return fail('spacing', 'no leading, trailing or double spaces');
  if (name.normalize('NFKC') !== name)
    return fail('not-normalized', 'use plain characters (no fullwidth forms, ligatures or other compatibility forms)');
  let marks = 0;
  for (const ch of chars) {
    marks = /\p{M}/u.test(ch) ? marks + 1 : 0;
    if (marks > MAX_MARKS_PER_BASE) return fail('control', 'too many combining marks on one character');
  }
  const scripts = new Set<Script>();
  for (const ch of chars) if (/\p{L}/u.test(ch)) scripts.add(scriptOf(ch));
  if (scripts.size > 1 && !ALLOWED_TOGETHER.some((set) => [...scripts].every((s) => set.has(s))))
    return fail('mixed-scripts', `letters from several scripts (${[...scripts].join(', ')}) can imitate another name`);
  return { ok: true, name };
}

export const DisplayNameSchema = v.pipe(
  v.string(),
  v.maxLength(4 * DISPLAY_NAME_MAX_CHARS),
  v.check((name) => checkDisplayName(name).ok, 'not a valid display name (SPEC NAME1)'),
);

/**
 * The bytes a provider signs to claim `name` for its key (SPEC NAME2): domain-separated and bound to the
 * key, so a signed name cannot be replayed for another key. `''` signs "no name" (clears it).
 */
export function displayNameMessage(peerId: string, name: string): Uint8Array {
  return new TextEncoder().encode(`basilica-name/v1\n${peerId}\n${name}`);
}

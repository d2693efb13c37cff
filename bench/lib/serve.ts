/**
 * Builds harness pages and serves them until killed:
 *   tsx bench/lib/serve.ts --port 4203 --out dist/transport harness/transport.html
 * Handy for running one e2e spec against a server of its own (Playwright
 * reuses a server already answering on its port).
 */
import { buildPages, serveStatic } from './browser';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? (args.splice(at, 2)[1] ?? fallback) : fallback;
};
const port = Number(option('port', '0'));
const out = option('out', 'dist/bench');
const pages = args.length > 0 ? args : ['harness/transport.html'];

const dir = await buildPages(out, pages);
const server = await serveStatic(dir, port);
console.log(`serving ${pages.join(', ')} from ${out} at ${server.url}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => void server.close().then(() => process.exit(0)));

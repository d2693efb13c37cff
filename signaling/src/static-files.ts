/**
 * Static hosting of the built web app (SPEC HTTP3–HTTP6): cross-origin isolation
 * headers on every response (onnxruntime-web's WASM threads need SharedArrayBuffer),
 * no path traversal, SPA fallback for page routes, 404 for missing assets.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative, resolve, sep } from 'node:path';

export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
};

export const MIME_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.npy': 'application/octet-stream',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.wgsl': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

export function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, {
    ...ISOLATION_HEADERS,
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    ...extra,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

const NOT_BUILT_PAGE = `<!doctype html><meta charset="utf-8"><title>Web app not built</title>
<body style="font-family:system-ui;max-width:40rem;margin:4rem auto;line-height:1.5">
<h1>The signaling server is running</h1>
<p>but the web app has not been built yet. Run <code>npm run build</code> (or <code>npm start</code>, which builds and serves) and reload.</p>
<p>Health: <a href="/healthz">/healthz</a> · Metrics: <a href="/metrics">/metrics</a></p>`;

export function createStaticHandler(staticDir: string) {
  const root = resolve(staticDir);

  return async function serveStatic(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { Allow: 'GET, HEAD' });
    const rootStat = await stat(root).catch(() => null);
    if (!rootStat?.isDirectory()) return send(res, 503, 'text/html; charset=utf-8', NOT_BUILT_PAGE);

    const pathname = decodePath(req.url ?? '/');
    if (pathname === null) return send(res, 400, 'text/plain; charset=utf-8', 'bad path\n');
    const file = resolve(root, '.' + pathname);
    const rel = relative(root, file);
    if (rel.startsWith('..') || rel.includes(`..${sep}`) || resolve(root, rel) !== file)
      return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');

    const found = await findFile(file);
    if (found) return streamFile(res, found.path, found.size, rel.startsWith(`assets${sep}`));
    // A path whose last segment has an extension is an asset: a missing one is a 404,
    // never index.html (which would be parsed as JS/WASM and fail confusingly).
    const last = pathname.slice(pathname.lastIndexOf('/') + 1);
    if (extname(last) !== '') return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    const index = await findFile(join(root, 'index.html'));
    if (!index) return send(res, 503, 'text/html; charset=utf-8', NOT_BUILT_PAGE);
    return streamFile(res, index.path, index.size, false);
  };
}

/** Decoded pathname, or null when it is malformed or carries a NUL / backslash trick. */
function decodePath(url: string): string | null {
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(url, 'http://x').pathname);
  } catch {
    return null;
  }
  if (pathname.includes('\0') || pathname.includes('\\')) return null;
  return pathname;
}

async function findFile(path: string): Promise<{ path: string; size: number } | null> {
  const s = await stat(path).catch(() => null);
  if (s?.isFile()) return { path, size: s.size };
  if (s?.isDirectory()) {
    const index = join(path, 'index.html');
    const i = await stat(index).catch(() => null);
    if (i?.isFile()) return { path: index, size: i.size };
  }
  return null;
}

function streamFile(res: ServerResponse, path: string, size: number, immutable: boolean): void {
  res.writeHead(200, {
    ...ISOLATION_HEADERS,
    'Content-Type': MIME_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': size,
    // Vite fingerprints everything under assets/; pages must be revalidated to pick up new builds.
    'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  if (res.req.method === 'HEAD') return void res.end();
  const stream = createReadStream(path);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

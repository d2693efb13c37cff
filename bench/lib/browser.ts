/**
 * Reusable bench plumbing: build the web app (harness pages included), serve
 * it from 127.0.0.1 with the headers the app needs, and launch Debian's
 * Chromium with the project's flags. Loopback only.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { build } from 'vite';
import { CHROMIUM_ARGS } from '../../playwright.config';

const REPO = resolve(import.meta.dirname, '../..');

/**
 * Builds only the given pages (paths under web/, e.g. 'harness/transport.html')
 * into `outDir` (relative to the repo). It skips the app's vite config on
 * purpose: a bench should not fail because another page of the app does not
 * build right now, and harness pages need no React plugin.
 */
export async function buildPages(outDir: string, pages: readonly string[]): Promise<string> {
  const absolute = resolve(REPO, outDir);
  const input = Object.fromEntries(pages.map((page) => [page.replace(/[/.]/g, '-'), resolve(REPO, 'web', page)]));
  await build({
    configFile: false,
    root: resolve(REPO, 'web'),
    logLevel: 'warn',
    build: { outDir: absolute, emptyOutDir: true, target: 'es2022', rollupOptions: { input } },
  });
  return absolute;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.onnx': 'application/octet-stream',
};

export interface StaticServer {
  /** http://localhost:PORT — localhost, not 127.0.0.1, is a secure context for WebGPU. */
  url: string;
  close(): Promise<void>;
}

/** Serves `dir` on 127.0.0.1 (port 0 = any free port), cross-origin isolated like the real server. */
export async function serveStatic(dir: string, port = 0): Promise<StaticServer> {
  const root = resolve(dir);
  const server: Server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    // Same probe as the signaling server, so Playwright's webServer check reuses this one.
    if (path === '/healthz') {
      response.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
      return;
    }
    let file = normalize(join(root, path));
    if (file !== root && !file.startsWith(root + sep)) {
      response.writeHead(403).end();
      return;
    }
    try {
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
    } catch {
      response.writeHead(404).end();
      return;
    }
    try {
      await stat(file);
    } catch {
      // A folder without index.html: 403, not 404, so Playwright's webServer
      // check (2xx–403 means "up") accepts a server that holds only harness pages.
      response.writeHead(file.endsWith(`${sep}index.html`) ? 403 : 404).end();
      return;
    }
    response.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cache-Control': 'no-store',
    });
    createReadStream(file).pipe(response);
  });
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://localhost:${bound}`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

/** Chromium from Debian's package (Playwright cannot download its own here). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    headless: true,
  });
}

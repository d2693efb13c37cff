/** CLI entry: `npm run serve` (or `npm start`, which builds the web app first). */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { HELP, parseConfig } from './config';
import { ConfigError } from './errors';
import { messageOf } from '@shared/errors';
import { createLogger, parseLogLevel } from './log';
import { createSignalingServer } from './server';
import * as C from './constants';

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseConfig(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(HELP);
    return;
  }
  const log = createLogger(parseLogLevel(process.env.LOG_LEVEL));
  const server = createSignalingServer({ ...parsed.options, logger: log });
  const { url } = await server.listen();
  const staticDir = resolve(parsed.options.staticDir ?? C.DEFAULT_STATIC_DIR);
  // Human-readable line on stderr so stdout stays pure JSON lines.
  process.stderr.write(`\n  Open ${url}\n`);
  if (!existsSync(staticDir)) process.stderr.write(`  (no web app in ${staticDir} yet: run npm run build)\n`);
  process.stderr.write('\n');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutdown', { signal });
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error('shutdown-failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

process.on('uncaughtException', (error) => {
  createLogger('error').error('uncaught', { error });
});

main().catch((error: unknown) => {
  process.stderr.write(`error: ${messageOf(error)}\n`);
  process.exit(1);
});

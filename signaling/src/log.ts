/** Structured logs: one JSON object per line (ts, level, event, fields). */

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

export function parseLogLevel(text: string | undefined): LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(text ?? '') ? (text as LogLevel) : 'info';
}

export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const emit = (lvl: LogLevel, event: string, fields?: Record<string, unknown>) => {
    if (LOG_LEVELS.indexOf(lvl) < threshold) return;
    let line: string;
    try {
      line = JSON.stringify({ ts: new Date().toISOString(), level: lvl, event, ...fields }, errorReplacer);
    } catch {
      line = JSON.stringify({ ts: new Date().toISOString(), level: lvl, event, note: 'unserializable fields' });
    }
    write(line);
  };
  return {
    debug: (e, f) => emit('debug', e, f),
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
  };
}

export const silentLogger: Logger = createLogger('silent', () => {});

function errorReplacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value;
}

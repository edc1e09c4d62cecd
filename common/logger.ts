import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino must never print. Secrets travel in these fields; redaction is the backstop,
 * the first rule being that code does not log them at all.
 */
export const REDACTED_PATHS = [
  'password',
  'secret',
  'token',
  'key',
  'psk',
  '*.password',
  '*.secret',
  '*.token',
  '*.key',
  '*.psk',
  '*.pskKey',
  '*.initialAdminPassword',
  'auth.initialAdminPassword',
  '*.factorySecret',
  '*.operationalSecret',
  'headers.authorization',
  'req.headers.authorization',
];

export interface LoggerConfig {
  level?: string;
  /** Writes to this destination instead of stdout (tests pass a stream to inspect output). */
  destination?: pino.DestinationStream;
}

/** The root logger of a process; components take `root.child({ component: 'name' })`. */
export function createLogger(config: LoggerConfig = {}): Logger {
  const level = config.level ?? process.env.EDGEDM_LOG_LEVEL ?? 'info';
  const options: LoggerOptions = {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  return config.destination ? pino(options, config.destination) : pino(options);
}

/** A logger that discards everything, for library users who pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * What Lifeline logs through: any object with these four methods, each called with a fields
 * object and a message (pino, console, or an adapter to another library). Nothing else of the
 * object is used.
 */
export interface LifelineLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const ignore = (): void => undefined;

/** A logger that drops everything (what `logger: false` means). */
export const silentLogger: LifelineLogger = { debug: ignore, info: ignore, warn: ignore, error: ignore };

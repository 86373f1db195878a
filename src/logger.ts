import { pino, type Logger } from "pino";

/**
 * Structured JSON logs. Paths that could carry credentials are redacted as a
 * second line of defence; the first is never logging them.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    redact: { paths: ["req.headers.authorization", "headers.authorization", "*.signingSecret", "*.apiKey", "*.password"], censor: "[redacted]" },
  };
  return destination ? pino(options, destination as never) : pino(options);
}

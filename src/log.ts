import { pino, type Logger, type LoggerOptions } from "pino";

export type { Logger } from "pino";
export type LogFormat = "json" | "pretty";

/**
 * Secrets are removed by configuration, not by care at call sites: any of these keys anywhere near the top of a
 * log object is censored, whatever the caller passed.
 */
const REDACT_PATHS = [
  "accessKey",
  "*.accessKey",
  "*.*.accessKey",
  "authorization",
  "Authorization",
  "*.authorization",
  "*.Authorization",
  "headers.authorization",
  "*.headers.authorization",
  "*.headers.Authorization",
  "token",
  "*.token",
];

export function createLogger(
  options: { level?: string; format?: LogFormat; name?: string; destination?: string } = {},
): Logger {
  const config: LoggerOptions = {
    level: options.level ?? process.env.LOG_LEVEL ?? "info",
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    base: options.name ? { name: options.name } : {},
  };
  if (options.format === "pretty") {
    return pino({ ...config, transport: { target: "pino-pretty", options: { colorize: process.stdout.isTTY } } });
  }
  if (options.destination)
    return pino(config, pino.destination({ dest: options.destination, mkdir: true, sync: false }));
  return pino(config);
}

/** A logger that drops everything: for tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

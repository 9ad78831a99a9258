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

const LEVEL_METHODS = new Set(["trace", "debug", "info", "warn", "error", "fatal"]);
const noop = (): void => undefined;

/**
 * `parent.child(bindings)`, made on first use: a controller hands one to every reconcile, and most reconciles log
 * nothing. Making a child runs the redaction over its bindings, which at 200,000 reconciles after a restart cost more
 * than a second; a call at a level that is off costs nothing and makes no child.
 */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  let child: Logger | undefined;
  const real = (): Logger => (child ??= parent.child(bindings));
  return new Proxy(parent, {
    get(_target, property) {
      if (!child && typeof property === "string" && LEVEL_METHODS.has(property) && !parent.isLevelEnabled(property))
        return noop;
      const target = real();
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
    set(_target, property, value) {
      return Reflect.set(real(), property, value);
    },
  });
}

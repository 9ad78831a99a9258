import { buildProgram } from "./index.js";

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  // A command that fails says why in one line; stack traces are for bugs, and LOG_LEVEL=debug shows them.
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  if (process.env.LOG_LEVEL === "debug" && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
}

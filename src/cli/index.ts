import { Command } from "commander";
import { registerRunCommand } from "./run.js";
import { registerPlanCommand } from "./plan.js";
import { registerStockCommand } from "./stock.js";
import { VERSION } from "../version.js";

/**
 * The `bird-operator` command line the image and `npm install` ship: what operating the operator needs. Each
 * sub-command lives in its own file beside this one; the development commands (simulator, control plane, demo) are
 * in dev/ and reach only a checkout (src/cli/dev/main.ts), never the image.
 */
export function buildProgram(): Command {
  const program = new Command("bird-operator")
    .description("Manage Bird phone numbers and alphanumeric senders as Kubernetes resources")
    .version(VERSION, "-V, --version", "print the version");
  program
    .command("version")
    .description("print the version")
    .action(() => {
      process.stdout.write(`bird-operator ${VERSION}\n`);
    });
  registerRunCommand(program);
  registerStockCommand(program);
  registerPlanCommand(program);
  return program;
}

/** Parses the command line and runs the command; a command that fails says why in one line and exits non-zero. */
export async function runProgram(program: Command): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    // Stack traces are for bugs, and LOG_LEVEL=debug shows them.
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    if (process.env.LOG_LEVEL === "debug" && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    process.exitCode = 1;
  }
}

import { Command } from "commander";
import { registerClusterCommand } from "./cluster.js";
import { registerRunCommand } from "./run.js";
import { registerDemoCommand } from "./demo.js";
import { registerPlanCommand } from "./plan.js";
import { registerStockCommand } from "./stock.js";
import { registerSimulateCommand } from "./simulate.js";
import { VERSION } from "../version.js";

/** The `bird-operator` command line. Each sub-command lives in its own file beside this one. */
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
  registerClusterCommand(program);
  registerDemoCommand(program);
  registerStockCommand(program);
  registerPlanCommand(program);
  registerSimulateCommand(program);
  return program;
}

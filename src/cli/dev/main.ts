import type { Command } from "commander";
import { buildProgram, runProgram } from "../index.js";
import { registerClusterCommand } from "./cluster.js";
import { registerDemoCommand } from "./demo.js";
import { registerSimulateCommand } from "./simulate.js";

/**
 * The development command line (`npm run dev -- <command>`, `npm run demo`): every command of the shipped one, and the
 * Bird simulator, the local control plane and the demo, which tsconfig.build.json leaves out of dist/ and the image.
 */
function buildDevProgram(): Command {
  const program = buildProgram();
  registerClusterCommand(program);
  registerDemoCommand(program);
  registerSimulateCommand(program);
  return program;
}

await runProgram(buildDevProgram());

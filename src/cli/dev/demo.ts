import type { Command } from "commander";
import { fileURLToPath } from "node:url";
import { waitForSignal } from "./signals.js";

interface DemoFlags {
  check: boolean;
  examples: string;
  timeout: string;
}

export function registerDemoCommand(program: Command): void {
  declareDemoOptions(program.command("demo")).action((flags: DemoFlags) => runDemo(flags));
}

function declareDemoOptions(command: Command): Command {
  return command
    .description(
      "start a local control plane, the Bird simulator and the operator, apply examples/, and show them turn Ready",
    )
    .option(
      "--check",
      "exit 0 once every example is Ready (non-zero with the reason otherwise) and stop everything",
      false,
    )
    .option(
      "--examples <dir>",
      "directory of manifests to apply",
      fileURLToPath(new URL("../../../examples", import.meta.url)),
    )
    .option("--timeout <seconds>", "how long --check waits for Ready", "180");
}

async function runDemo(flags: DemoFlags): Promise<void> {
  const print = (text: string): void => void process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  const { startDemo, watchUntilReady } = await import("../../demo/demo.js");
  const demo = await startDemo({ examplesDir: flags.examples, print });
  try {
    const pending = await watchUntilReady(demo, {
      timeoutMs: Number(flags.timeout) * 1000,
      print,
      live: !flags.check,
    });
    if (flags.check) return reportCheck(flags, pending, demo, print);
    printRunning(demo, print);
    await waitForSignal();
  } finally {
    print("Stopping...");
    await demo.stop();
  }
}

/**
 * --check: the examples not Ready (exit code 1), or that all are. The parameters name only what is used, so this
 * module imports nothing of the demo, which is loaded only when the command runs.
 */
function reportCheck(
  flags: DemoFlags,
  pending: { kind: string; name: string; reason: string }[],
  demo: { logFile: string },
  print: (text: string) => void,
): void {
  if (pending.length) {
    print(
      `Not Ready after ${flags.timeout} s:\n` +
        `${pending.map((r) => `  ${r.kind} ${r.name}: ${r.reason || "no status yet"}`).join("\n")}`,
    );
    print(`Operator logs: ${demo.logFile}`);
    process.exitCode = 1;
  } else {
    print("Every example is Ready.");
  }
}

function printRunning(
  demo: { logFile: string; plane: { kubeconfigPath: string } },
  print: (text: string) => void,
): void {
  print(
    [
      "",
      "Everything is running. In another terminal:",
      `  export KUBECONFIG=${demo.plane.kubeconfigPath}`,
      "  kubectl get bird -A",
      "  kubectl describe pn support-line",
      "  kubectl wait --for=condition=Ready pn --all -n default",
      `Operator logs: ${demo.logFile}`,
      "Press Ctrl-C to stop everything.",
    ].join("\n"),
  );
}

import { existsSync, readFileSync } from "node:fs";
import { InvalidArgumentError, Option, type Command } from "commander";
import type { BirdWorkspace } from "../api/v1alpha1/index.js";
import { parseDuration } from "../config.js";
import { DEFAULT_SECRET_KEY } from "../workspace/connections.js";
import { ClusterReader } from "../plan/cluster.js";
import { readManifests } from "../plan/input.js";
import { exitCode, makePlan } from "../plan/planner.js";
import { ReadOnlyKubeHttp } from "../plan/read-only.js";
import { renderMarkdown, renderText } from "../plan/render.js";
import type { Plan } from "../plan/types.js";
import { apiStatusCode } from "../runtime/errors.js";
import { loadKubeConnection } from "../runtime/kube-config.js";

interface PlanFlags {
  filename: string[];
  prune: boolean;
  selector?: string;
  namespace: string;
  output: "text" | "markdown" | "json";
  failOnViolation: boolean;
  detailedExitcode: boolean;
  kubeconfig?: string;
  operatorNamespace: string;
  birdAccessKeyFile: string[];
  birdTimeout: string;
  color: boolean;
}

export function registerPlanCommand(program: Command): void {
  const command = program
    .command("plan")
    .description(
      "show what applying PhoneNumbers and AlphaSenders would buy, activate, cancel and cost, " +
        "and what would be refused; reads only (exit 0: no changes, 2: changes, 1: error)",
    )
    .option(
      "-f, --filename <path>",
      "manifests: a file, a directory, a kustomization directory, or - for stdin (repeatable)",
      collect,
      [],
    )
    .option(
      "--prune",
      "treat PhoneNumbers and AlphaSenders of the input's namespaces that the input lacks as deleted " +
        "(kubectl apply --prune, Argo CD prune)",
      false,
    )
    .option("-l, --selector <selector>", "with --prune: only objects matching this label selector are pruned")
    .option("-n, --namespace <ns>", "namespace of objects that name none", "default")
    .addOption(
      new Option("-o, --output <format>", "text, markdown (a pull-request comment) or json (docs/plan.md)")
        .choices(["text", "markdown", "json"])
        .default("text"),
    );
  declareGateAndAccessOptions(command);
  command.action((flags: PlanFlags) => runPlan(flags));
}

/** How the plan's outcome gates a pipeline, and how it reaches the cluster and Bird. */
function declareGateAndAccessOptions(command: Command): void {
  command
    .option(
      "--fail-on-violation",
      "exit 1 when the API server or the operator would refuse something (policy, quota, conflicts, invalid changes)",
      false,
    )
    .option(
      "--no-detailed-exitcode",
      "exit 0 when there are changes too (for gates such as an Argo CD PreSync hook, where only 1 should fail)",
    )
    .option(
      "--kubeconfig <file>",
      "kubeconfig to use (default: the files in KUBECONFIG, then in-cluster, then ~/.kube/config)",
    )
    // Not POD_NAMESPACE as `run` reads it:
    // a plan's pod (a PreSync hook) runs in a team's namespace, not the operator's.
    .option(
      "--operator-namespace <ns>",
      "the operator's namespace (its --operator-namespace), which every workspace admits",
      "bird-operator",
    )
    .option(
      "--bird-access-key-file <[workspace=]file>",
      "a Bird AccessKey for asking Bird, for every workspace or the one named (repeatable); " +
        "without it the workspace's Secret is read with your credentials",
      collect,
      [],
    )
    .option("--bird-timeout <duration>", "timeout of one Bird request attempt", "10s")
    .option("--no-color", "no colours in text output (also NO_COLOR; colours only on a terminal anyway)");
}

async function runPlan(flags: PlanFlags): Promise<void> {
  if (!flags.filename.length) throw new InvalidArgumentError("give the manifests with -f <file|dir|->");
  const manifests = readManifests(flags.filename);
  const connection = await loadKubeConnection({ path: flags.kubeconfig });
  const http = new ReadOnlyKubeHttp(connection);
  try {
    const reader = new ClusterReader(http, connection.server);
    const plan = await makePlan(manifests, {
      reader,
      operatorNamespace: flags.operatorNamespace,
      defaultNamespace: flags.namespace,
      prune: flags.prune,
      selector: flags.selector,
      accessKey: accessKeys(flags.birdAccessKeyFile, reader),
      birdTimeoutMs: parseDuration(flags.birdTimeout),
      resyncMs: 600_000,
    });
    process.stdout.write(renderPlan(plan, flags));
    const code = exitCode(plan, flags.failOnViolation);
    process.exitCode = code === 2 && !flags.detailedExitcode ? 0 : code;
  } finally {
    http.close();
  }
}

function renderPlan(plan: Plan, flags: PlanFlags): string {
  const colour = flags.color && process.stdout.isTTY && !process.env.NO_COLOR;
  return flags.output === "json"
    ? `${JSON.stringify(plan, null, 2)}\n`
    : flags.output === "markdown"
      ? renderMarkdown(plan)
      : renderText(plan, colour);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * Where the AccessKey for asking Bird about a workspace comes from: a file given for it (or for every workspace), else
 * the workspace's Secret, read with the caller's own credentials (the shipped planner role reads no Secrets).
 */
function accessKeys(files: readonly string[], reader: ClusterReader): (workspace: BirdWorkspace) => Promise<string> {
  const byWorkspace = new Map<string, string>();
  let forAll: string | undefined;
  for (const entry of files) {
    const at = entry.indexOf("=");
    if (at > 0 && !existsSync(entry)) byWorkspace.set(entry.slice(0, at), entry.slice(at + 1));
    else forAll = entry;
  }
  return async (workspace) => {
    const name = workspace.metadata?.name ?? "";
    const file = byWorkspace.get(name) ?? forAll;
    if (file) {
      const key = readFileSync(file, "utf8").trim();
      if (!key) throw new Error(`the access key file ${file} is empty`);
      return key;
    }
    const ref = workspace.spec.accessKeySecretRef;
    try {
      return await reader.secretValue(ref.namespace, ref.name, ref.key ?? DEFAULT_SECRET_KEY);
    } catch (error) {
      if (apiStatusCode(error) !== 403) throw error;
      throw new Error(
        `your credentials may not read Secret ${ref.namespace}/${ref.name}; ` +
          `give --bird-access-key-file [${name}=]<file> (docs/plan.md says why the planner role reads no Secrets)`,
        { cause: error },
      );
    }
  };
}

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { startSimulator, type RunningSimulator } from "../../src/simulator/index.js";
import { testCluster } from "../helpers/cluster.js";
import { ACCESS_KEY, createFixture, type Fixture } from "../support/fixtures.js";
import { startTestOperator, type TestOperator } from "../helpers/operator.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const HOOK_DIR = fileURLToPath(new URL("../../deploy/argocd/plan-presync", import.meta.url));
const cluster = testCluster();

interface Doc {
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
  spec?: {
    template: {
      spec: {
        serviceAccountName: string;
        containers: { args: string[] }[];
        volumes: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[];
      };
    };
  };
}

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * deploy/argocd/plan-presync: what Argo CD would apply is valid, and the hook's command does what docs/plan.md says.
 */
describe("the Argo CD PreSync hook example", () => {
  let sim: RunningSimulator;
  let fixture: Fixture;
  let operator: TestOperator;
  let dir: string;
  let docs: Doc[];

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, provisioningDelayMs: 0 });
    fixture = await createFixture(cluster, sim.url);
    await cluster.kubectl([
      "patch",
      "birdworkspace",
      fixture.workspace,
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { allowedNamespaces: { names: [fixture.namespace] } } }),
    ]);
    operator = await startTestOperator({
      kubeconfigPath: cluster.kubeconfigPath,
      namespace: fixture.namespace,
      workspaceSelector: fixture.selector,
    });
    await cluster.kubectl(["wait", "--for=condition=Ready", `birdworkspace/${fixture.workspace}`, "--timeout=30s"]);
    dir = mkdtempSync(join(tmpdir(), "plan-hook-"));
    docs = parseAllDocuments((await cluster.kubectl(["kustomize", HOOK_DIR])).stdout).map((d) => d.toJS() as Doc);
  });

  afterAll(async () => {
    await operator?.stop();
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(
    "renders a PreSync ConfigMap of the manifests (wave -1) and a PreSync Job mounting it, " +
      "and the API server accepts them",
    async () => {
      const input = docs.find((d) => d.kind === "ConfigMap");
      const job = docs.find((d) => d.kind === "Job");
      expect(input?.metadata.annotations).toMatchObject({
        "argocd.argoproj.io/hook": "PreSync",
        "argocd.argoproj.io/sync-wave": "-1",
      });
      expect(Object.keys(input?.data ?? {})).toEqual(["support-line.yaml"]);
      expect(job?.metadata.annotations?.["argocd.argoproj.io/hook"]).toBe("PreSync");
      expect(job?.spec?.template.spec.serviceAccountName).toBe("bird-operator-planner");
      expect(job?.spec?.template.spec.volumes.find((v) => v.name === "input")?.configMap?.name).toBe(
        input?.metadata.name,
      );
      const applied = await cluster.kubectl(["apply", "--dry-run=server", "-n", fixture.namespace, "-f", "-"], {
        input: (await cluster.kubectl(["kustomize", HOOK_DIR])).stdout,
      });
      expect(applied.stdout).toContain("job.batch/bird-operator-plan created (server dry run)");
      expect(applied.stdout).toContain("phonenumber.numbers.birdoperator.dev/support-line created (server dry run)");
    },
  );

  it(
    "its command plans the revision's manifests in the Application's namespace and passes a change (exit 0), " +
      "2 without --no-detailed-exitcode",
    async () => {
      const input = docs.find((d) => d.kind === "ConfigMap");
      const job = docs.find((d) => d.kind === "Job");
      mkdirSync(join(dir, "input"));
      for (const [file, text] of Object.entries(input?.data ?? {}))
        writeFileSync(join(dir, "input", file), text.replace("name: production", `name: ${fixture.workspace}`));
      writeFileSync(join(dir, "accessKey"), ACCESS_KEY);
      sim.sim.addStock([{ numberString: "+31612345678", countryCode: "NL", type: "mobile" }]);
      // The Job's arguments, with the pod's paths and the namespace the downward API gives mapped to this test's.
      const args = (job?.spec?.template.spec.containers[0]?.args ?? []).map((a) =>
        a
          .replace("/input", join(dir, "input"))
          .replace("$(APP_NAMESPACE)", fixture.namespace)
          .replace("/var/run/bird/accessKey", join(dir, "accessKey")),
      );
      const gate = await cli([...args, "--kubeconfig", cluster.kubeconfigPath]);
      expect(gate.code, gate.stderr).toBe(0);
      expect(gate.stdout).toContain(`PhoneNumber ${fixture.namespace}/support-line: create`);
      expect(gate.stdout).toContain("buy +31612345678 (NL mobile)");
      const detailed = await cli([
        ...args.filter((a) => a !== "--no-detailed-exitcode"),
        "--kubeconfig",
        cluster.kubeconfigPath,
      ]);
      expect(detailed.code).toBe(2);
    },
  );
});

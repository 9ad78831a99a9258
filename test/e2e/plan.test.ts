import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { AlphaSender, PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import type { Plan, ResourcePlan } from "../../src/plan/types.js";
import { startSimulator, type RunningSimulator } from "../../src/simulator/index.js";
import { clusterAt, type TestCluster } from "../helpers/cluster.js";
import { ACCESS_KEY, apply, createFixture, eventually, getJson, type Fixture } from "../support/fixtures.js";
import { startTestOperator, type TestOperator } from "../helpers/operator.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const CRD_DIR = fileURLToPath(new URL("../../crds", import.meta.url));
const PLANNER_RBAC = fileURLToPath(new URL("../../deploy/rbac/planner.yaml", import.meta.url));
const CONFIRM_DELETE = fileURLToPath(
  new URL("../../deploy/components/deletion-guard/confirm-delete.yaml", import.meta.url),
);
const SCHEMA = JSON.parse(readFileSync(new URL("../../docs/plan.schema.json", import.meta.url), "utf8")) as object;
const PLANNER = "system:serviceaccount:bird-operator:bird-operator-planner";
const WRITE_VERBS = new Set(["create", "update", "patch", "delete", "deletecollection"]);

interface AuditEvent {
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string };
  responseStatus?: { code?: number };
}

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, KUBECONFIG: "" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The plan against what the operator then does. A control plane of its own (with an audit log and the deletion guard's
 * confirm-delete policy) and the simulator hold a workspace with numbers and a sender; a change set (new numbers, an
 * adoption, a number reserved for the namespace, destinations added and removed, a sender's countries changed, a
 * deletion with Delete, one with Retain and one the deletion guard refuses, one over the spend cap, one in a forbidden
 * namespace, one immutable-field change, a copy of a held number, a destination and a sender country Bird refuses) is
 * planned as the shipped planner ServiceAccount, then applied with the operator running: every Bird write the operator
 * makes is one the plan listed, and the plan listed nothing the operator did not do. The plan itself wrote nothing: not
 * to Bird (its call log), not to the API server (its audit log).
 */
describe("bird-operator plan against the operator", () => {
  let plane: ControlPlane;
  let admin: TestCluster;
  let sim: RunningSimulator;
  let fixture: Fixture;
  let operator: TestOperator | undefined;
  let dir: string;
  let plannerKubeconfig: string;
  let keyFile: string;
  let outside: string;
  const runs: { code: number | null; stdout: string; stderr: string }[] = [];
  let plan: Plan;
  let birdCallsDuringPlan: { method: string; path: string }[] = [];
  let purchasesBeforePlan = 0;
  let auditFrom = 0;
  const before = new Map<string, string>();
  let destsNumber = "";

  const pn = (name: string, spec: Record<string, unknown>, namespace = fixture.namespace): Record<string, unknown> => ({
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "PhoneNumber",
    metadata: { name, namespace },
    spec: { workspaceRef: { name: fixture.workspace }, ...spec },
  });
  const acme = (countries: string[]): Record<string, unknown> => ({
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "AlphaSender",
    metadata: { name: "acme", namespace: fixture.namespace },
    spec: { workspaceRef: { name: fixture.workspace }, alphaString: "ACME", countries, deletionPolicy: "Delete" },
  });
  const existing = (): Record<string, unknown>[] => [
    pn("dests", {
      countryCode: "US",
      type: "local",
      destinations: [{ capability: "sms", countryCodes: ["US", "CA"] }],
      deletionPolicy: "Retain",
    }),
    {
      ...pn("to-delete", { countryCode: "DE", type: "local", deletionPolicy: "Delete" }),
      metadata: {
        name: "to-delete",
        namespace: fixture.namespace,
        annotations: { "numbers.birdoperator.dev/confirm-delete": "true" },
      },
    },
    pn("guarded", { countryCode: "US", type: "local", deletionPolicy: "Delete" }),
    pn("to-retain", { countryCode: "NL", type: "mobile" }),
    pn("immutable", { countryCode: "US", type: "local" }),
    acme(["NL", "GB"]),
  ];
  const changeSet = (): Record<string, unknown>[] => [
    pn("dests", {
      countryCode: "US",
      type: "local",
      destinations: [{ capability: "sms", countryCodes: ["US", "GB"] }],
      deletionPolicy: "Retain",
    }),
    pn("immutable", { countryCode: "CA", type: "local" }),
    acme(["NL", "DE", "US"]),
    pn("copy", { numberString: destsNumber }),
    pn("reserved", { numberString: "+31687654323", destinations: [{ capability: "sms", countryCodes: ["NL"] }] }),
    pn("gb-line", { countryCode: "GB", type: "mobile", destinations: [{ capability: "sms", countryCodes: ["GB"] }] }),
    pn("ca-line", { countryCode: "CA", type: "local" }),
    pn("adopted", { numberString: "+31687654321", destinations: [{ capability: "sms", countryCodes: ["NL"] }] }),
    pn("adopted-jp", { numberString: "+31687654322", destinations: [{ capability: "sms", countryCodes: ["JP"] }] }),
    pn("pricey", { numberString: "+4930999000001" }),
    pn("outsider", { countryCode: "US", type: "local" }, outside),
  ];
  const resource = (name: string): ResourcePlan => {
    const found = plan.resources.find((r) => r.name === name);
    if (!found) throw new Error(`the plan has no resource ${name}`);
    return found;
  };
  const audit = (): AuditEvent[] =>
    readFileSync(plane.auditLogPath, "utf8")
      .split("\n")
      .slice(auditFrom)
      .filter(Boolean)
      .map((line) => JSON.parse(line) as AuditEvent)
      .filter((e) => e.stage === "ResponseComplete");
  const waitReason = (kind: string, name: string, reason: string, namespace = fixture.namespace): Promise<unknown> =>
    eventually(
      `${kind} ${name} Ready reason ${reason}`,
      async () => {
        const object = await getJson<PhoneNumber>(admin, [kind, name, "-n", namespace]);
        return object.status?.conditions?.find((c) => c.type === "Ready" && c.reason === reason);
      },
      60_000,
    );

  beforeAll(async () => {
    plane = await ControlPlane.start({ crdDir: CRD_DIR, audit: true });
    admin = clusterAt(plane.kubeconfigPath);
    await apply(admin, { apiVersion: "v1", kind: "Namespace", metadata: { name: "bird-operator" } });
    await admin.kubectl(["apply", "-f", PLANNER_RBAC, "-f", CONFIRM_DELETE]);
    dir = mkdtempSync(join(tmpdir(), "plan-test-"));
    const { stdout: token } = await admin.kubectl([
      "create",
      "token",
      "bird-operator-planner",
      "-n",
      "bird-operator",
      "--duration=1h",
    ]);
    const kubeconfig = JSON.parse(readFileSync(plane.kubeconfigPath, "utf8")) as {
      users: { user: Record<string, unknown> }[];
    };
    kubeconfig.users = [{ ...kubeconfig.users[0], user: { token: token.trim() } }];
    plannerKubeconfig = join(dir, "planner-kubeconfig");
    writeFileSync(plannerKubeconfig, JSON.stringify(kubeconfig), { mode: 0o600 });
    keyFile = join(dir, "bird-access-key");
    writeFileSync(keyFile, ACCESS_KEY, { mode: 0o600 });

    sim = await startSimulator({ port: 0, validateResponses: true, provisioningDelayMs: 0, callLogSize: 20_000 });
    fixture = await createFixture(admin, sim.url, {
      policy: {
        allowedCountries: ["US", "CA", "GB", "NL", "DE", "JP"],
        maxMonthlySpend: { currencyCode: "EUR", amount: 100_000_000, exponent: -6 },
      },
    });
    outside = `${fixture.namespace}-outside`;
    await apply(admin, { apiVersion: "v1", kind: "Namespace", metadata: { name: outside } });
    operator = await startTestOperator({
      kubeconfigPath: plane.kubeconfigPath,
      namespace: fixture.namespace,
      workspaceSelector: fixture.selector,
      overrides: { namespaces: [fixture.namespace, outside], resyncMs: 10_000 },
    });
    await admin.kubectl(["wait", "--for=condition=Ready", `birdworkspace/${fixture.workspace}`, "--timeout=30s"]);
    await apply(admin, ...existing());
    await admin.kubectl([
      "wait",
      "--for=condition=Ready",
      "phonenumber/dests",
      "phonenumber/to-delete",
      "phonenumber/to-retain",
      "phonenumber/immutable",
      "phonenumber/guarded",
      "alphasender/acme",
      "-n",
      fixture.namespace,
      "--timeout=90s",
    ]);
    await operator.stop();
    operator = undefined;
    for (const object of (
      await getJson<{ items: (PhoneNumber | AlphaSender)[] }>(admin, [
        "phonenumbers,alphasenders",
        "-n",
        fixture.namespace,
      ])
    ).items) {
      before.set(object.status?.endpointId ?? "", `${object.kind}/${object.metadata?.name}`);
      if (object.metadata?.name === "dests") destsNumber = (object as PhoneNumber).status?.numberString ?? "";
    }
    // What the change set adopts (in the workspace, no record)
    // and what it cannot afford (500 EUR a month, cap 100 EUR).
    sim.sim.addNumbers({ countryCode: "NL", type: "mobile", numberString: "+31687654321" });
    sim.sim.addNumbers({ countryCode: "NL", type: "mobile", numberString: "+31687654322" });
    // And one the platform team reserved for the namespace: a record with only claimRef.namespace.
    sim.sim.addNumbers({ countryCode: "NL", type: "mobile", numberString: "+31687654323" });
    await apply(admin, {
      apiVersion: "numbers.birdoperator.dev/v1alpha1",
      kind: "BirdNumber",
      metadata: { name: `${fixture.workspace}.31687654323` },
      spec: {
        workspaceRef: { name: fixture.workspace },
        numberString: "+31687654323",
        claimRef: { namespace: fixture.namespace },
      },
    });
    sim.sim.addStock([
      {
        numberString: "+4930999000001",
        countryCode: "DE",
        type: "local",
        monthlyPrice: { currencyCode: "EUR", amount: 500_000_000, exponent: -6 },
      },
    ]);
    writeFileSync(
      join(dir, "changes.yaml"),
      changeSet()
        .map((d) => stringify(d))
        .join("---\n"),
    );

    sim.sim.resetCalls();
    purchasesBeforePlan = sim.sim.purchases().length;
    auditFrom = readFileSync(plane.auditLogPath, "utf8").split("\n").length - 1;
    const common = [
      "plan",
      "-f",
      join(dir, "changes.yaml"),
      "--prune",
      "--kubeconfig",
      plannerKubeconfig,
      "--operator-namespace",
      fixture.namespace,
      "--bird-access-key-file",
      keyFile,
    ];
    for (const output of ["json", "markdown", "text"]) runs.push(await cli([...common, "-o", output]));
    birdCallsDuringPlan = sim.sim.calls().recent.map((c) => ({ method: c.method, path: c.path }));
    plan = JSON.parse(runs[0]?.stdout ?? "{}") as Plan;
  }, 300_000);

  afterAll(async () => {
    await operator?.stop();
    expect(sim?.sim.responseViolations() ?? []).toEqual([]);
    await sim?.close();
    await plane?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(
    "exits 2 (changes) as the planner ServiceAccount, " + "in every format, and the JSON matches docs/plan.schema.json",
    () => {
      for (const run of runs) expect(run.code, run.stderr).toBe(2);
      const ajv = new Ajv2020({ allErrors: true });
      addFormatsModule.default(ajv);
      const validate = ajv.compile(SCHEMA);
      expect(validate(plan), JSON.stringify(validate.errors)).toBe(true);
      expect(plan.errors).toEqual([]);
      expect(plan.warnings).toEqual([]);
      expect(runs[1]?.stdout).toMatch(/^### bird-operator plan\n/);
      expect(runs[1]?.stdout).toContain("| 💶 | PhoneNumber `" + fixture.namespace + "/gb-line` | create |");
      expect(runs[2]?.stdout).toContain(`PhoneNumber ${fixture.namespace}/to-delete: delete (deletionPolicy Delete)`);
      // Not a terminal: no colours.
      expect(runs[2]?.stdout).not.toContain("\x1b[");
    },
  );

  it("says what each resource will buy, adopt, activate, deactivate, cancel, keep or be refused", () => {
    const gb = resource("gb-line");
    expect(gb.operation).toBe("create");
    expect(gb.actions.map((a) => a.type)).toEqual(["buy", "activate"]);
    expect(gb.actions[0]).toMatchObject({
      type: "buy",
      countryCode: "GB",
      numberType: "mobile",
      monthlyPrice: { currencyCode: "EUR" },
    });
    expect(gb.actions[1]).toMatchObject({ capability: "sms", countries: ["GB"], validation: "after-purchase" });
    expect(resource("ca-line").actions).toMatchObject([{ type: "buy", countryCode: "CA", numberType: "local" }]);

    expect(resource("adopted").actions).toMatchObject([
      { type: "adopt", numberString: "+31687654321" },
      { type: "activate", capability: "sms", countries: ["NL"], validation: "accepted" },
    ]);
    const jp = resource("adopted-jp");
    expect(jp.actions).toMatchObject([{ type: "adopt", numberString: "+31687654322" }]);
    expect(jp.problems).toMatchObject([{ reason: "DestinationUnavailable", severity: "violation" }]);
    expect(jp.problems[0]?.message).toContain("JP");

    expect(resource("dests")).toMatchObject({ operation: "update", changedFields: ["destinations"] });
    expect(resource("dests").actions).toMatchObject([
      { type: "activate", capability: "sms", countries: ["GB"], validation: "accepted" },
      { type: "deactivate", capability: "sms", countries: ["CA"] },
    ]);
    const sender = resource("acme");
    expect(sender.problems).toMatchObject([{ reason: "CountryUnavailable", severity: "violation" }]);
    expect(sender.problems[0]?.message).toContain("to US");
    expect(sender.actions).toMatchObject([
      { type: "activate", countries: ["DE"], validation: "accepted", prices: { DE: { currencyCode: "EUR" } } },
      { type: "deactivate", countries: ["GB"] },
      { type: "cancel-subscription", subscription: "GB", target: "ACME" },
    ]);

    expect(resource("to-delete")).toMatchObject({
      operation: "delete",
      deletionPolicy: "Delete",
      apiServer: { dryRun: "accepted" },
    });
    expect(resource("to-delete").actions).toMatchObject([{ type: "cancel-subscription", subscription: "main" }]);
    expect(resource("to-retain")).toMatchObject({ operation: "delete", deletionPolicy: "Retain" });
    expect(resource("to-retain").actions).toMatchObject([{ type: "release", why: "deletionPolicy Retain" }]);

    // The deletion guard refuses deleting a Delete-policy number without confirm-delete: the dry run says so.
    expect(resource("guarded")).toMatchObject({ operation: "delete", apiServer: { dryRun: "refused" }, actions: [] });
    expect(resource("guarded").problems).toMatchObject([{ reason: "DeletionRefused", severity: "violation" }]);
    expect(resource("guarded").problems[0]?.message).toContain("bird-operator-confirm-delete");
    expect(resource("pricey").actions).toEqual([]);
    expect(resource("pricey").problems).toMatchObject([{ reason: "QuotaExceeded", severity: "violation" }]);
    expect(resource("pricey").problems[0]?.message).toContain("+4930999000001");
    expect(resource("outsider").problems).toMatchObject([{ reason: "Forbidden", severity: "violation" }]);
    expect(resource("reserved").actions).toMatchObject([
      { type: "take-over", record: `${fixture.workspace}.31687654323`, target: "+31687654323", from: "reserved" },
      { type: "activate", countries: ["NL"], validation: "accepted" },
    ]);
    expect(resource("copy").actions).toEqual([]);
    expect(resource("copy").problems).toMatchObject([{ reason: "NumberConflict", severity: "violation" }]);
    expect(resource("copy").problems[0]?.message).toContain(`is held by ${fixture.namespace}/dests`);
    const immutable = resource("immutable");
    expect(immutable.apiServer.dryRun).toBe("refused");
    expect(immutable.problems).toMatchObject([{ reason: "Invalid", severity: "violation" }]);
    expect(immutable.problems[0]?.message).toContain("countryCode is immutable");
    expect(immutable.actions).toEqual([]);

    expect(plan.violations.map((v) => `${v.object.split("/")[1]} ${v.reason}`).sort()).toEqual(
      [
        "acme CountryUnavailable",
        "adopted-jp DestinationUnavailable",
        "copy NumberConflict",
        "guarded DeletionRefused",
        "immutable Invalid",
        "outsider Forbidden",
        "pricey QuotaExceeded",
      ].sort(),
    );
    expect(plan.summary).toMatchObject({
      purchases: 2,
      adoptions: 2,
      claims: 1,
      cancellations: 2,
      releases: 1,
      violations: 7,
    });
  });

  it("counts each workspace's numbers and spend before and after against its limits", () => {
    const [workspace] = plan.workspaces;
    expect(workspace?.name).toBe(fixture.workspace);
    const bought = plan.resources.flatMap((r) => r.actions).filter((a) => a.type === "buy");
    // Six numbers with records before (to-delete, to-retain, guarded, dests, immutable, the reserved one) plus the two
    // adoptable ones no record knows yet; after: two bought, to-delete cancelled.
    expect(workspace?.numbers).toEqual({ before: 8, after: 9 });
    expect(workspace?.monthlySpend.max).toEqual({ currencyCode: "EUR", amount: 100_000_000, exponent: -6 });
    expect(workspace?.monthlySpend.after.amount).toBeLessThanOrEqual(100_000_000);
    expect(bought).toHaveLength(2);
  });

  it(
    "wrote nothing: Bird saw only GETs and validate=true, " + "the API server only the planner's reads and dry runs",
    () => {
      const planner = audit().filter((e) => e.user.username === PLANNER);
      const writes = planner.filter((e) => WRITE_VERBS.has(e.verb));
      expect(
        writes.filter((e) => !e.requestURI.includes("dryRun=All")).map((e) => `${e.verb} ${e.requestURI}`),
      ).toEqual([]);
      // Every one of the 14 resources (11 in the input, 3 pruned) was dry-run once per run.
      expect(writes.length).toBe(3 * 14);
      const posts = birdCallsDuringPlan.filter((c) => c.method !== "GET");
      for (const call of posts) expect(call.path).toMatch(/\/destinations\/activate\?validate=true$/);
      expect(posts.length).toBeGreaterThan(0);
      expect(sim.sim.purchases().length).toBe(purchasesBeforePlan);
      console.log(
        `[plan] 3 runs: ${posts.length} Bird POSTs, all validate=true; ${writes.length} API server dry runs, ` +
          `0 writes; ${planner.length} requests by the planner`,
      );
    },
  );

  it(
    "the planner ServiceAccount cannot write for real: " + "the shipped admission policy refuses what is not a dry run",
    async () => {
      const attempt = await admin.kubectl(["apply", "-f", join(dir, "changes.yaml"), `--as=${PLANNER}`], {
        allowFailure: true,
      });
      expect(attempt.code).not.toBe(0);
      expect(attempt.stderr).toContain("bird-operator-planner-dry-run-only");
      expect(attempt.stderr).toContain("may only make server-side dry runs");
    },
  );

  it("with only the read-only role it still plans, says what it could not check, and reads no Secret", async () => {
    const reader = "plan-reader";
    await admin.kubectl(["create", "serviceaccount", reader, "-n", "bird-operator"]);
    await admin.kubectl([
      "create",
      "clusterrolebinding",
      reader,
      "--clusterrole=bird-operator-planner",
      `--serviceaccount=bird-operator:${reader}`,
    ]);
    const { stdout: token } = await admin.kubectl(["create", "token", reader, "-n", "bird-operator", "--duration=1h"]);
    const kubeconfig = JSON.parse(readFileSync(plannerKubeconfig, "utf8")) as {
      users: { user: Record<string, unknown> }[];
    };
    kubeconfig.users = [{ ...kubeconfig.users[0], user: { token: token.trim() } }];
    const readerKubeconfig = join(dir, "reader-kubeconfig");
    writeFileSync(readerKubeconfig, JSON.stringify(kubeconfig), { mode: 0o600 });
    const args = [
      "plan",
      "-f",
      join(dir, "changes.yaml"),
      "-o",
      "json",
      "--kubeconfig",
      readerKubeconfig,
      "--operator-namespace",
      fixture.namespace,
    ];

    const withKey = await cli([...args, "--bird-access-key-file", `${fixture.workspace}=${keyFile}`]);
    expect(withKey.code, withKey.stderr).toBe(2);
    const partial = JSON.parse(withKey.stdout) as Plan;
    expect(partial.warnings.join("\n")).toContain("dry run needs create, patch and delete");
    expect(partial.resources.every((r) => r.apiServer.dryRun === "skipped")).toBe(true);
    // Bird's part does not depend on the dry run.
    expect(partial.resources.find((r) => r.name === "gb-line")?.actions.map((a) => a.type)).toEqual([
      "buy",
      "activate",
    ]);

    const withoutKey = await cli(args);
    expect(withoutKey.code).toBe(1);
    const failed = JSON.parse(withoutKey.stdout) as Plan;
    expect(failed.errors.join("\n")).toContain(
      `may not read Secret ${fixture.namespace}/bird-access-key; give --bird-access-key-file`,
    );
  });

  it(
    "the operator then does exactly what the plan said: " + "every planned Bird write happens, nothing unplanned does",
    async () => {
      sim.sim.resetCalls();
      const purchasesBefore = sim.sim.purchases().length;
      operator = await startTestOperator({
        kubeconfigPath: plane.kubeconfigPath,
        namespace: fixture.namespace,
        workspaceSelector: fixture.selector,
        overrides: { namespaces: [fixture.namespace, outside], resyncMs: 10_000 },
      });
      const applied = await admin.kubectl(["apply", "-f", join(dir, "changes.yaml")], { allowFailure: true });
      expect(applied.stderr).toContain("countryCode is immutable");
      await admin.kubectl(["delete", "phonenumber", "to-delete", "to-retain", "-n", fixture.namespace, "--wait=false"]);
      const guarded = await admin.kubectl(
        ["delete", "phonenumber", "guarded", "-n", fixture.namespace, "--wait=false"],
        {
          allowFailure: true,
        },
      );
      expect(guarded.stderr).toContain("bird-operator-confirm-delete");
      await admin.kubectl([
        "wait",
        "--for=condition=Ready",
        "phonenumber/gb-line",
        "phonenumber/ca-line",
        "phonenumber/adopted",
        "phonenumber/dests",
        "phonenumber/reserved",
        "-n",
        fixture.namespace,
        "--timeout=90s",
      ]);
      await waitReason("alphasender", "acme", "CountryUnavailable");
      await waitReason("phonenumber", "copy", "NumberConflict");
      await admin.kubectl([
        "wait",
        "--for=delete",
        "phonenumber/to-delete",
        "phonenumber/to-retain",
        "-n",
        fixture.namespace,
        "--timeout=60s",
      ]);
      await waitReason("phonenumber", "adopted-jp", "DestinationUnavailable");
      await waitReason("phonenumber", "pricey", "QuotaExceeded");
      await waitReason("phonenumber", "outsider", "Forbidden", outside);
      // A deactivation follows an activation within the same reconcile: wait until Bird's writes have stopped.
      const writes = (): number =>
        sim.sim.calls().recent.filter((c) => c.method === "POST" && !c.path.includes("validate=true")).length;
      let last = -1;
      await eventually(
        "Bird writes to settle",
        async () => {
          const now = writes();
          const settled = now === last;
          last = now;
          await new Promise((r) => setTimeout(r, 1500));
          return settled ? true : undefined;
        },
        60_000,
      );

      const owners = new Map(before);
      for (const object of (
        await getJson<{ items: (PhoneNumber | AlphaSender)[] }>(admin, [
          "phonenumbers,alphasenders",
          "-n",
          fixture.namespace,
        ])
      ).items) {
        owners.set(object.status?.endpointId ?? "", `${object.kind}/${object.metadata?.name}`);
      }
      const numberOwners = new Map(
        (await getJson<{ items: PhoneNumber[] }>(admin, ["phonenumbers", "-n", fixture.namespace])).items.map((o) => [
          o.status?.numberString,
          `PhoneNumber/${o.metadata?.name}`,
        ]),
      );
      const bought = new Map(
        sim.sim
          .purchases()
          .slice(purchasesBefore)
          .map((p) => [p.stockItemId, p.numberString]),
      );
      // Bird answers a refused activation in a 200 body and changes nothing; the plan said which would be refused.
      const refusedInPlan = (owner: string, country: string): boolean =>
        plan.resources.some(
          (r) =>
            `${r.kind}/${r.name}` === owner &&
            r.problems.some((p) => p.reason === "DestinationUnavailable" && p.message.includes(country)),
        );
      const done: string[] = [];
      const refused: string[] = [];
      for (const call of sim.sim.calls().recent) {
        if (call.method !== "POST" || call.path.includes("validate=true")) continue;
        const body = call.body as { numberStockItemIds?: string[]; capability?: string; countryCodes?: string[] };
        const endpoint = /\/endpoints\/([^/]+)\//.exec(call.path)?.[1] ?? "";
        const owner = owners.get(endpoint) ?? `unknown endpoint ${endpoint}`;
        if (call.route === "/workspaces/{workspaceId}/numbers-long-code") {
          for (const id of body.numberStockItemIds ?? [])
            done.push(`${numberOwners.get(bought.get(id)) ?? "unknown"} buy ${bought.get(id)}`);
        } else if (call.route.endsWith("/destinations/activate") || call.route.endsWith("/destinations/deactivate")) {
          const verb = call.route.endsWith("/activate") ? "activate" : "deactivate";
          for (const country of body.countryCodes ?? [])
            (refusedInPlan(owner, country) ? refused : done).push(`${owner} ${verb} ${body.capability} ${country}`);
        } else if (call.route.endsWith("/cancel")) {
          done.push(`${owner} cancel ${/\/subscriptions\/([^/]+)\/cancel/.exec(call.path)?.[1]}`);
        } else {
          done.push(`${owner} ${call.method} ${call.route}`);
        }
      }
      const planned = plan.resources.flatMap((r) =>
        r.actions.flatMap((a) => {
          const who = `${r.kind}/${r.name}`;
          if (a.type === "buy") return [`${who} buy ${a.numberString}`];
          if (a.type === "activate" || a.type === "deactivate")
            return a.countries.map((c) => `${who} ${a.type} ${a.capability} ${c}`);
          if (a.type === "cancel-subscription") return [`${who} cancel ${a.subscription}`];
          return [];
        }),
      );
      expect(done.sort()).toEqual(planned.sort());
      // The refused ones were tried and changed nothing: the number has no active destination.
      expect(new Set(refused)).toEqual(new Set(["PhoneNumber/adopted-jp activate sms JP"]));
      const jp = sim.sim
        .snapshot()
        .workspaces.flatMap((w) => w.numbers ?? [])
        .find((n) => n.numberString === "+31687654322");
      expect(jp?.endpoint?.capabilities?.find((c) => c.name === "sms")?.outbound?.destinationStatuses?.active).toBe(0);
      console.log(
        `[plan] the operator made ${done.length} Bird writes, each one planned:\n  ${done.sort().join("\n  ")}`,
      );
    },
    240_000,
  );
});

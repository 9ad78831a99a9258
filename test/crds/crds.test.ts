/**
 * The CRDs on a real kube-apiserver (the global setup installs crds/), driven with kubectl as a user would:
 * examples apply, printer columns and explain work, invalid manifests are rejected naming the offending field,
 * status is only writable through its subresource, and defaults are filled in.
 * The cluster has no garbage collector and is shared by the whole run: every test uses names of its own.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readCrds, REPO_ROOT } from "../../scripts/generate-crd-types.js";
import { API_VERSION, type PhoneNumber, type PhoneNumberStatus } from "../../src/api/v1alpha1/index.js";
import { testCluster, uniqueName } from "../helpers/cluster.js";

const cluster = testCluster();
const NAMESPACE = "default";
const ORGANIZATION_ID = "11111111-1111-4111-8111-111111111111";
const WORKSPACE_ID = "22222222-2222-4222-8222-222222222222";
const OTHER_UUID = "33333333-3333-4333-8333-333333333333";

type Spec = Record<string, unknown>;
type Manifest = Record<string, unknown>;

// Builders leave the name empty: each test names its objects with named(), uniquely.
function workspace(spec: Spec = {}): Manifest {
  return {
    apiVersion: API_VERSION,
    kind: "BirdWorkspace",
    metadata: { name: "" },
    spec: {
      organizationId: ORGANIZATION_ID,
      workspaceId: WORKSPACE_ID,
      accessKeySecretRef: { namespace: "bird-operator", name: "bird-access-key" },
      ...spec,
    },
  };
}

function phoneNumber(spec: Spec = {}): Manifest {
  return {
    apiVersion: API_VERSION,
    kind: "PhoneNumber",
    metadata: { name: "", namespace: NAMESPACE },
    spec: { workspaceRef: { name: "default" }, countryCode: "US", type: "local", ...spec },
  };
}

function alphaSender(spec: Spec = {}): Manifest {
  return {
    apiVersion: API_VERSION,
    kind: "AlphaSender",
    metadata: { name: "", namespace: NAMESPACE },
    spec: { workspaceRef: { name: "default" }, alphaString: "ACME", countries: ["NL"], ...spec },
  };
}

function named(manifest: Manifest, name: string): Manifest {
  return { ...manifest, metadata: { ...(manifest.metadata as object), name } };
}

/** Drops spec fields so a case can say what is missing. */
function without(manifest: Manifest, ...keys: string[]): Manifest {
  const spec = { ...(manifest.spec as Spec) };
  for (const key of keys) delete spec[key];
  return { ...manifest, spec };
}

function apply(manifest: Manifest, allowFailure = false): ReturnType<typeof cluster.kubectl> {
  return cluster.kubectl(["apply", "-f", "-"], { input: JSON.stringify(manifest), allowFailure });
}

async function getJson<T>(resource: string, name: string, namespaced = true): Promise<T> {
  const args = ["get", resource, name, "-o", "json", ...(namespaced ? ["-n", NAMESPACE] : [])];
  return JSON.parse((await cluster.kubectl(args)).stdout) as T;
}

function headerOf(output: string): string[] {
  return (output.split("\n")[0] ?? "").trim().split(/\s+/);
}

const countries = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => String.fromCharCode(65 + (Math.floor(i / 26) % 26), 65 + (i % 26)));

describe("installed CRDs", () => {
  it.each(readCrds(join(REPO_ROOT, "crds")))("$spec.names.kind is served exactly as crds/ defines it", async (crd) => {
    const name = `${crd.spec.names.plural}.${crd.spec.group}`;
    const served = JSON.parse((await cluster.kubectl(["get", "crd", name, "-o", "json"])).stdout) as {
      spec: { versions: unknown[] };
      status: { conditions: { type: string; status: string }[] };
    };
    // An installer that round-trips the YAML through typed models can silently drop enum, default and
    // x-kubernetes-* keys; every other test here would then fail for a confusing reason.
    expect(served.spec.versions).toEqual(crd.spec.versions);
    const accepted = served.status.conditions.filter(
      ({ type, status }) => ["NamesAccepted", "Established"].includes(type) && status === "True",
    );
    expect(accepted).toHaveLength(2);
  });
});

describe("examples", () => {
  const files = readdirSync(join(REPO_ROOT, "examples"))
    .filter((file) => file.endsWith(".yaml"))
    .sort();

  it.each(files)("%s applies cleanly", async (file) => {
    const { stdout, stderr } = await cluster.kubectl(["apply", "-f", join(REPO_ROOT, "examples", file)]);
    expect(stdout).toMatch(/(created|configured|unchanged)/);
    expect(stderr).not.toMatch(/warning/i);
  });

  it("are all listed by the bird category", async () => {
    const { stdout } = await cluster.kubectl(["get", "bird", "-A", "-o", "name"]);
    expect(stdout).toContain("birdworkspace.numbers.birdoperator.dev/default");
    expect(stdout).toContain("phonenumber.numbers.birdoperator.dev/support-line");
    expect(stdout).toContain("phonenumber.numbers.birdoperator.dev/amsterdam-office");
    expect(stdout).toContain("phonenumber.numbers.birdoperator.dev/legacy-hotline");
    expect(stdout).toContain("alphasender.numbers.birdoperator.dev/acme");
  });
});

describe("kubectl get and explain", () => {
  it.each([
    { resource: "pn", columns: ["NAME", "NUMBER", "COUNTRY", "TYPE", "PRICE", "READY", "REASON", "SYNCED", "AGE"] },
    {
      resource: "phonenumbers",
      columns: ["NAME", "NUMBER", "COUNTRY", "TYPE", "PRICE", "READY", "REASON", "SYNCED", "AGE"],
    },
    {
      resource: "pn",
      wide: true,
      columns: ["NAME", "NUMBER", "COUNTRY", "TYPE", "PRICE", "READY", "REASON", "SYNCED", "STATUS", "BOUND", "AGE"],
    },
    { resource: "as", columns: ["NAME", "SENDER", "ACTIVE", "DESIRED", "READY", "REASON", "SYNCED", "AGE"] },
    { resource: "alpha", columns: ["NAME", "SENDER", "ACTIVE", "DESIRED", "READY", "REASON", "SYNCED", "AGE"] },
    {
      resource: "as",
      wide: true,
      columns: ["NAME", "SENDER", "ACTIVE", "DESIRED", "READY", "REASON", "SYNCED", "COUNTRIES", "STATUS", "AGE"],
    },
    { resource: "bws", columns: ["NAME", "NUMBERS", "SENDERS", "SPEND", "READY", "REASON", "SYNCED", "AGE"] },
    {
      resource: "bws",
      wide: true,
      columns: ["NAME", "NUMBERS", "SENDERS", "SPEND", "READY", "REASON", "SYNCED", "WORKSPACE", "ENDPOINT", "AGE"],
    },
  ])("kubectl get $resource (wide: $wide) shows the printer columns", async ({ resource, wide, columns }) => {
    // One object of each kind exists whatever the order of tests: the examples are applied idempotently here.
    await cluster.kubectl(["apply", "-f", join(REPO_ROOT, "examples")]);
    const { stdout } = await cluster.kubectl(["get", resource, "-n", NAMESPACE, ...(wide ? ["-o", "wide"] : [])]);
    expect(headerOf(stdout)).toEqual(columns);
  });

  it("kubectl get bird -A shows a team's resources, with why each is not Ready, on one screen", async () => {
    // A team's namespace as a platform team names them, and names as teams write them.
    const team = uniqueName("team");
    await cluster.kubectl(["create", "namespace", team]);
    const inTeam = (manifest: Manifest, name: string): Manifest => ({
      ...manifest,
      metadata: { name, namespace: team, labels: { team } },
    });
    for (const name of ["support-line", "sales-line", "billing-hotline"]) await apply(inTeam(phoneNumber(), name));
    await apply(inTeam(alphaSender({ countries: ["NL", "DE", "GB", "FR"] }), "acme"));
    const condition = (type: string, status: string, reason: string): Record<string, unknown> => ({
      type,
      status,
      reason,
      message: "",
      lastTransitionTime: "2025-01-01T00:00:00Z",
      observedGeneration: 1,
    });
    const patchStatus = (resource: string, name: string, statusPatch: Record<string, unknown>): Promise<unknown> =>
      cluster.kubectl([
        "patch",
        resource,
        name,
        "-n",
        team,
        "--subresource=status",
        "--type=merge",
        "-p",
        JSON.stringify({ status: statusPatch }),
      ]);
    await patchStatus("pn", "support-line", {
      numberString: "+12125550123",
      countryCode: "US",
      type: "local",
      monthlyPriceText: "1.15 USD",
      conditions: [condition("Ready", "True", "Available"), condition("Synced", "True", "ReconcileSuccess")],
    });
    await patchStatus("pn", "sales-line", {
      conditions: [condition("Ready", "False", "QuotaExceeded"), condition("Synced", "False", "QuotaExceeded")],
    });
    await patchStatus("as", "acme", {
      alphaString: "ACME",
      activeCountries: 2,
      desiredCountries: 4,
      conditions: [condition("Ready", "False", "CountryBlocked"), condition("Synced", "True", "ReconcileSuccess")],
    });

    const { stdout } = await cluster.kubectl(["get", "bird", "-A", "-l", `team=${team}`]);
    const lines = stdout.trimEnd().split("\n");
    const row = (name: string): string[] =>
      (lines.find((line) => line.split(/\s+/)[1]?.endsWith(`/${name}`)) ?? "").trim().split(/\s+/);
    // Two tables (numbers, senders), each with its header, and a blank line between: four objects on seven lines,
    // none wider than a 160-column terminal although kubectl prefixes every name with its kind and group.
    expect(lines).toHaveLength(7);
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(160);
    expect(row("support-line").slice(2, 10)).toEqual([
      "+12125550123",
      "US",
      "local",
      "1.15",
      "USD",
      "True",
      "Available",
      "True",
    ]);
    expect(row("sales-line").slice(2, 5)).toEqual(["False", "QuotaExceeded", "False"]);
    expect(row("acme").slice(2, 8)).toEqual(["ACME", "2", "4", "False", "CountryBlocked", "True"]);
  });

  it("kubectl get bws shows a workspace's numbers, senders, spend and readiness", async () => {
    const name = uniqueName("spend");
    await apply(named(workspace(), name));
    const ready = {
      type: "Ready",
      status: "False",
      reason: "Unauthorized",
      message: "",
      lastTransitionTime: "2025-01-01T00:00:00Z",
      observedGeneration: 1,
    };
    await cluster.kubectl([
      "patch",
      "bws",
      name,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status: { numbers: 2, senders: 1, monthlySpendText: "12.65 EUR", conditions: [ready] } }),
    ]);
    const { stdout } = await cluster.kubectl(["get", "bws", name, "--no-headers"]);
    expect(stdout.trim().split(/\s+/).slice(0, 7)).toEqual([name, "2", "1", "12.65", "EUR", "False", "Unauthorized"]);
  });

  it("kubectl explain phonenumber.spec.destinations prints the field's description", async () => {
    // The API server publishes a new CRD's OpenAPI a moment after the CRD is established.
    let text = "";
    for (let attempt = 0; attempt < 50; attempt++) {
      const result = await cluster.kubectl(["explain", "phonenumber.spec.destinations"], { allowFailure: true });
      text = result.stdout.replace(/\s+/g, " ");
      if (result.code === 0 && text.includes("Outbound destination countries")) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(text).toContain("Outbound destination countries to keep active, one entry per capability.");
    expect(text).toContain("countryCodes");
    expect(text).toContain("ISO 3166-1 alpha-2 destination countries to keep active");
  });
});

interface RejectedCase {
  reason: string;
  manifest: Manifest;
  /** Applied first, when the case is about an update. */
  before?: Manifest;
  expected: string[];
}

function rejectedCases(): RejectedCase[] {
  return [
    {
      reason: "country code with a digit",
      manifest: phoneNumber({ countryCode: "U1" }),
      expected: ["spec.countryCode", "should match '^[A-Z]{2}$'"],
    },
    {
      reason: "alpha-3 country code",
      manifest: phoneNumber({ countryCode: "USA" }),
      expected: ["spec.countryCode", "Too long"],
    },
    { reason: "lower-case country code", manifest: phoneNumber({ countryCode: "us" }), expected: ["spec.countryCode"] },
    {
      reason: "destination country not ISO alpha-2",
      manifest: phoneNumber({ destinations: [{ capability: "sms", countryCodes: ["US", "usa"] }] }),
      expected: ["spec.destinations[0].countryCodes[1]"],
    },
    {
      reason: "numberString not E.164",
      manifest: phoneNumber({ numberString: "0612345678" }),
      expected: ["spec.numberString", "should match"],
    },
    {
      reason: "numberString too long for E.164",
      manifest: phoneNumber({ numberString: "+1234567890123456" }),
      expected: ["spec.numberString"],
    },
    {
      reason: "unknown number type",
      manifest: phoneNumber({ type: "landline" }),
      expected: ["spec.type", 'Unsupported value: "landline"'],
    },
    {
      reason: "prefix without +",
      manifest: phoneNumber({ prefix: "1212" }),
      expected: ["spec.prefix", "should match"],
    },
    {
      reason: "101 destination countries",
      manifest: phoneNumber({ destinations: [{ capability: "sms", countryCodes: countries(101) }] }),
      expected: ["spec.destinations[0].countryCodes", "must have at most 100 items"],
    },
    {
      reason: "empty destination country list",
      manifest: phoneNumber({ destinations: [{ capability: "sms", countryCodes: [] }] }),
      expected: ["spec.destinations[0].countryCodes", "at least 1 items"],
    },
    {
      reason: "duplicate destination country",
      manifest: phoneNumber({ destinations: [{ capability: "sms", countryCodes: ["US", "US"] }] }),
      expected: ["spec.destinations[0].countryCodes[1]", "Duplicate value"],
    },
    {
      reason: "two destination entries for one capability",
      manifest: phoneNumber({
        destinations: [
          { capability: "sms", countryCodes: ["US"] },
          { capability: "sms", countryCodes: ["CA"] },
        ],
      }),
      expected: ["spec.destinations[1]", "Duplicate value"],
    },
    {
      reason: "unknown destination capability",
      manifest: phoneNumber({ destinations: [{ capability: "rcs", countryCodes: ["US"] }] }),
      expected: ["spec.destinations[0].capability", "Unsupported value"],
    },
    {
      reason: "unknown number capability",
      manifest: phoneNumber({ capabilities: ["fax-outbound"] }),
      expected: ["spec.capabilities[0]", "Unsupported value"],
    },
    {
      reason: "negative price amount",
      manifest: phoneNumber({ maxMonthlyPrice: { currencyCode: "USD", amount: -1, exponent: -6 } }),
      expected: ["spec.maxMonthlyPrice.amount", "greater than or equal to 0"],
    },
    {
      reason: "price exponent below -12",
      manifest: phoneNumber({ maxMonthlyPrice: { currencyCode: "USD", amount: 1, exponent: -13 } }),
      expected: ["spec.maxMonthlyPrice.exponent"],
    },
    {
      reason: "price without currency",
      manifest: phoneNumber({ maxMonthlyPrice: { amount: 1, exponent: -6 } }),
      expected: ["spec.maxMonthlyPrice.currencyCode", "Required value"],
    },
    {
      reason: "bad deletionPolicy",
      manifest: phoneNumber({ deletionPolicy: "Orphan" }),
      expected: ["spec.deletionPolicy", "Unsupported value"],
    },
    {
      reason: "bad managementPolicy",
      manifest: phoneNumber({ managementPolicy: "ReadOnly" }),
      expected: ["spec.managementPolicy", "Unsupported value"],
    },
    {
      reason: "missing workspaceRef",
      manifest: without(phoneNumber(), "workspaceRef"),
      expected: ["spec.workspaceRef", "Required value"],
    },
    {
      reason: "neither numberString nor countryCode and type",
      manifest: without(phoneNumber(), "type"),
      expected: ["spec", "set numberString (the exact number), or countryCode and type"],
    },
    {
      reason: "prefix without countryCode",
      manifest: without(phoneNumber({ numberString: "+12125550100", prefix: "+1212" }), "countryCode", "type"),
      expected: ["spec.prefix", "prefix requires countryCode"],
    },
    {
      reason: "numberString outside prefix",
      manifest: phoneNumber({ prefix: "+1212", numberString: "+16465550100" }),
      expected: ["spec.numberString", "must start with prefix"],
    },
    {
      reason: "ObserveOnly without numberString",
      manifest: phoneNumber({ managementPolicy: "ObserveOnly" }),
      expected: ["spec.numberString", "ObserveOnly requires numberString"],
    },
    {
      reason: "unknown spec field",
      manifest: phoneNumber({ colour: "blue" }),
      expected: ['unknown field "spec.colour"'],
    },
    {
      reason: "both alphaString and alphaNumberId",
      manifest: alphaSender({ alphaNumberId: OTHER_UUID }),
      expected: ["spec", "set exactly one of alphaString or alphaNumberId"],
    },
    {
      reason: "neither alphaString nor alphaNumberId",
      manifest: without(alphaSender(), "alphaString"),
      expected: ["spec", "set exactly one of alphaString or alphaNumberId"],
    },
    {
      reason: "alphaString over 11 characters",
      manifest: alphaSender({ alphaString: "ACMEACMEACME" }),
      expected: ["spec.alphaString", "may not be more than 11"],
    },
    {
      reason: "alphaString without a letter",
      manifest: alphaSender({ alphaString: "12345" }),
      expected: ["spec.alphaString", "should match"],
    },
    {
      reason: "alphaString with punctuation",
      manifest: alphaSender({ alphaString: "ACME!" }),
      expected: ["spec.alphaString", "should match"],
    },
    {
      reason: "alphaNumberId not a uuid",
      manifest: without(alphaSender({ alphaNumberId: "acme" }), "alphaString"),
      expected: ["spec.alphaNumberId", "should match"],
    },
    {
      reason: "251 sender countries",
      manifest: alphaSender({ countries: countries(251) }),
      expected: ["spec.countries", "must have at most 250 items"],
    },
    {
      reason: "missing AlphaSender workspaceRef",
      manifest: without(alphaSender(), "workspaceRef"),
      expected: ["spec.workspaceRef", "Required value"],
    },
    {
      reason: "workspaceId not a uuid",
      manifest: workspace({ workspaceId: "my-workspace" }),
      expected: ["spec.workspaceId", "should match"],
    },
    {
      reason: "organizationId not a uuid",
      manifest: workspace({ organizationId: "1234" }),
      expected: ["spec.organizationId", "should match"],
    },
    {
      reason: "endpoint without scheme",
      manifest: workspace({ endpoint: "api.bird.com" }),
      expected: ["spec.endpoint", "should match"],
    },
    {
      reason: "endpoint not http(s)",
      manifest: workspace({ endpoint: "ftp://api.bird.com" }),
      expected: ["spec.endpoint", "should match"],
    },
    {
      reason: "GET rate limit above Bird's 50/s",
      manifest: workspace({ rateLimits: { getPerSecond: 51 } }),
      expected: ["spec.rateLimits.getPerSecond", "less than or equal to 50"],
    },
    {
      reason: "POST rate limit above Bird's 500/s",
      manifest: workspace({ rateLimits: { postPerSecond: 501 } }),
      expected: ["spec.rateLimits.postPerSecond", "less than or equal to 500"],
    },
    {
      reason: "zero rate limit",
      manifest: workspace({ rateLimits: { postPerSecond: 0 } }),
      expected: ["spec.rateLimits.postPerSecond", "greater than or equal to 1"],
    },
    {
      reason: "missing accessKeySecretRef",
      manifest: without(workspace(), "accessKeySecretRef"),
      expected: ["spec.accessKeySecretRef", "Required value"],
    },
    {
      reason: "policy country not ISO alpha-2",
      manifest: workspace({ policy: { allowedCountries: ["Germany"] } }),
      expected: ["spec.policy.allowedCountries[0]"],
    },
    {
      reason: "negative maxNumbers",
      manifest: workspace({ policy: { maxNumbers: -1 } }),
      expected: ["spec.policy.maxNumbers", "greater than or equal to 0"],
    },
    {
      reason: "lower-case currency",
      manifest: workspace({ policy: { maxMonthlySpend: { currencyCode: "usd", amount: 1, exponent: 0 } } }),
      expected: ["spec.policy.maxMonthlySpend.currencyCode", "should match"],
    },
    {
      reason: "unknown selector operator",
      manifest: workspace({
        allowedNamespaces: { selector: { matchExpressions: [{ key: "team", operator: "Like" }] } },
      }),
      expected: ["spec.allowedNamespaces.selector.matchExpressions[0].operator", "Unsupported value"],
    },
  ];
}

function immutableCases(): RejectedCase[] {
  const pn = phoneNumber;
  return [
    {
      reason: "countryCode changed",
      before: pn(),
      manifest: pn({ countryCode: "CA" }),
      expected: ["spec.countryCode", "countryCode is immutable"],
    },
    {
      reason: "countryCode added",
      before: without(pn({ numberString: "+12125550100" }), "countryCode", "type"),
      manifest: without(pn({ numberString: "+12125550100" }), "type"),
      expected: ["spec.countryCode", "countryCode is immutable"],
    },
    {
      reason: "type changed",
      before: pn(),
      manifest: pn({ type: "mobile" }),
      expected: ["spec.type", "type is immutable"],
    },
    {
      reason: "type removed",
      before: pn({ numberString: "+12125550100" }),
      manifest: without(pn({ numberString: "+12125550100" }), "type"),
      expected: ["spec.type", "type is immutable"],
    },
    {
      reason: "prefix changed",
      before: pn({ prefix: "+1212" }),
      manifest: pn({ prefix: "+1646" }),
      expected: ["spec.prefix", "prefix is immutable"],
    },
    {
      reason: "prefix added",
      before: pn(),
      manifest: pn({ prefix: "+1212" }),
      expected: ["spec.prefix", "prefix is immutable"],
    },
    {
      reason: "prefix removed",
      before: pn({ prefix: "+1212" }),
      manifest: pn(),
      expected: ["spec.prefix", "prefix is immutable"],
    },
    {
      reason: "PhoneNumber workspaceRef changed",
      before: pn(),
      manifest: pn({ workspaceRef: { name: "other" } }),
      expected: ["spec.workspaceRef", "workspaceRef is immutable"],
    },
    {
      reason: "alphaString changed",
      before: alphaSender(),
      manifest: alphaSender({ alphaString: "ACME2" }),
      expected: ["spec.alphaString", "alphaString is immutable"],
    },
    {
      reason: "alphaString swapped for alphaNumberId",
      before: alphaSender(),
      manifest: without(alphaSender({ alphaNumberId: OTHER_UUID }), "alphaString"),
      expected: ["spec.alphaNumberId", "alphaNumberId is immutable", "spec.alphaString", "alphaString is immutable"],
    },
    {
      reason: "AlphaSender workspaceRef changed",
      before: alphaSender(),
      manifest: alphaSender({ workspaceRef: { name: "other" } }),
      expected: ["spec.workspaceRef", "workspaceRef is immutable"],
    },
    {
      reason: "workspaceId changed",
      before: workspace(),
      manifest: workspace({ workspaceId: OTHER_UUID }),
      expected: ["spec.workspaceId", "workspaceId is immutable"],
    },
    {
      reason: "organizationId changed",
      before: workspace(),
      manifest: workspace({ organizationId: OTHER_UUID }),
      expected: ["spec.organizationId", "organizationId is immutable"],
    },
  ];
}

describe("invalid manifests are rejected, naming the field", () => {
  it.each(rejectedCases())("$reason", async ({ manifest, expected }) => {
    const { code, stderr } = await apply(named(manifest, uniqueName("rejected")), true);
    expect(code, stderr).not.toBe(0);
    for (const text of expected) expect(stderr).toContain(text);
  });

  it.each(immutableCases())("$reason", async ({ before, manifest, expected }) => {
    const name = uniqueName("immutable");
    await apply(named(before ?? manifest, name));
    const { code, stderr } = await apply(named(manifest, name), true);
    expect(code, stderr).not.toBe(0);
    for (const text of expected) expect(stderr).toContain(text);
  });
});

describe("allowed updates", () => {
  it.each([
    {
      reason: "pinning numberString after the purchase",
      before: phoneNumber(),
      after: phoneNumber({ numberString: "+12125550100" }),
    },
    {
      reason: "changing destinations and policies",
      before: phoneNumber(),
      after: phoneNumber({
        destinations: [{ capability: "voice", countryCodes: ["US"] }],
        deletionPolicy: "Retain",
        managementPolicy: "ObserveOnly",
        numberString: "+12125550100",
      }),
    },
    {
      reason: "changing a sender's countries",
      before: alphaSender(),
      after: alphaSender({ countries: ["NL", "DE"], deletionPolicy: "Retain" }),
    },
    {
      reason: "rotating the access key Secret and moving the endpoint",
      before: workspace(),
      after: workspace({
        accessKeySecretRef: { namespace: "bird-operator", name: "rotated", key: "key" },
        endpoint: "https://eu.api.bird.com/v1",
      }),
    },
  ])("$reason", async ({ before, after }) => {
    const name = uniqueName("update");
    await apply(named(before, name));
    const { code, stderr } = await apply(named(after, name), true);
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });
});

describe("defaults", () => {
  it(
    "fills managementPolicy Full and leaves deletionPolicy to the workspace " + "(no schema default that could cancel)",
    async () => {
      const pn = uniqueName("defaults");
      const as = uniqueName("defaults");
      await apply(named(phoneNumber(), pn));
      await apply(named(alphaSender(), as));
      const pnSpec = (await getJson<PhoneNumber>("phonenumber", pn)).spec;
      const asSpec = (await getJson<{ spec: Spec }>("alphasender", as)).spec;
      expect(pnSpec).toMatchObject({ managementPolicy: "Full" });
      expect(asSpec).toMatchObject({ managementPolicy: "Full" });
      expect(pnSpec.deletionPolicy).toBeUndefined();
      expect(asSpec.deletionPolicy).toBeUndefined();
    },
  );

  it(
    "fills the workspace endpoint, Secret key, " + "Bird's rate limits and the Retain default deletion policy",
    async () => {
      const name = uniqueName("defaults");
      await apply(named(workspace(), name));
      expect((await getJson<{ spec: Spec }>("birdworkspace", name, false)).spec).toMatchObject({
        endpoint: "https://api.bird.com",
        accessKeySecretRef: { key: "accessKey" },
        rateLimits: { getPerSecond: 50, postPerSecond: 500 },
        defaultDeletionPolicy: "Retain",
      });
    },
  );
});

describe("status subresource", () => {
  const status: PhoneNumberStatus = {
    numberString: "+12125550123",
    countryCode: "US",
    type: "local",
    provisioningStatus: "provisioned",
    monthlyPrice: { currencyCode: "USD", amount: 1150000, exponent: -6 },
    conditions: [
      {
        type: "Ready",
        status: "True",
        reason: "Available",
        message: "",
        lastTransitionTime: "2025-01-01T00:00:00Z",
        observedGeneration: 1,
      },
    ],
  };

  it("ignores status in create, apply and replace, and accepts it through --subresource=status", async () => {
    const name = uniqueName("status");
    const forged: Manifest = { ...named(phoneNumber(), name), status: { numberString: "+19999999999" } };
    await apply(forged);
    expect((await getJson<PhoneNumber>("phonenumber", name)).status).toBeUndefined();

    const patch = JSON.stringify({ status });
    await cluster.kubectl([
      "patch",
      "phonenumber",
      name,
      "-n",
      NAMESPACE,
      "--subresource=status",
      "--type=merge",
      "-p",
      patch,
    ]);
    expect((await getJson<PhoneNumber>("phonenumber", name)).status).toMatchObject(status);

    await apply({ ...forged, spec: { ...(forged.spec as Spec), deletionPolicy: "Retain" } });
    const applied = await getJson<PhoneNumber>("phonenumber", name);
    expect(applied.spec.deletionPolicy).toBe("Retain");
    expect(applied.status).toMatchObject(status);

    const replaced = { ...applied, status: { numberString: "+19999999999" } };
    await cluster.kubectl(["replace", "-f", "-"], { input: JSON.stringify(replaced) });
    expect((await getJson<PhoneNumber>("phonenumber", name)).status).toMatchObject(status);
  });

  it("feeds the printer columns", async () => {
    const name = uniqueName("columns");
    await apply(named(phoneNumber(), name));
    await cluster.kubectl([
      "patch",
      "pn",
      name,
      "-n",
      NAMESPACE,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status: { ...status, monthlyPriceText: "1.15 USD" } }),
    ]);
    const { stdout } = await cluster.kubectl(["get", "pn", name, "-n", NAMESPACE, "--no-headers", "-o", "wide"]);
    // No Synced condition and no record: those columns stay empty.
    expect(stdout.trim().split(/\s+/).slice(0, 9)).toEqual([
      name,
      "+12125550123",
      "US",
      "local",
      "1.15",
      "USD",
      "True",
      "Available",
      "provisioned",
    ]);
  });

  it("validates conditions like metav1.Condition", async () => {
    const name = uniqueName("status");
    await apply(named(phoneNumber(), name));
    const bad = {
      status: {
        conditions: [
          {
            type: "Ready",
            status: "Yes",
            reason: "not a reason",
            message: "",
            lastTransitionTime: "2025-01-01T00:00:00Z",
          },
        ],
      },
    };
    const { code, stderr } = await cluster.kubectl(
      ["patch", "pn", name, "-n", NAMESPACE, "--subresource=status", "--type=merge", "-p", JSON.stringify(bad)],
      { allowFailure: true },
    );
    expect(code).not.toBe(0);
    expect(stderr).toContain("status.conditions[0].status");
    expect(stderr).toContain("status.conditions[0].reason");
  });
});

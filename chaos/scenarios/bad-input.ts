import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AlphaSender, BirdWorkspace, PhoneNumber } from "../../src/api/v1alpha1/index.js";
import type { RunningSimulator } from "../../src/simulator/index.js";
import {
  auditNumbers,
  clearCondition,
  nameOf,
  numberIdOf,
  paidNumbers,
  readyOf,
  reportCrashes,
} from "../lib/checks.js";
import { freePortUnused, sleep, waitFor, WORKSPACE_ID, type ChaosEnv, type Fixture } from "../lib/env.js";
import { brokenWorkspaces, generateBadInputs, type BadInput, type BadInputContext } from "../lib/bad-input.js";
import type { OperatorProcess } from "../../test/support/operator-process.js";
import type { ScenarioReport } from "../lib/report.js";
import type { Random } from "../lib/specs.js";

type Broken = ReturnType<typeof brokenWorkspaces>;
type Objects = Map<string, PhoneNumber | AlphaSender | BirdWorkspace>;

/**
 * Issue #9 scenario 6: at least 200 generated manifests, random and malformed, applied with kubectl as a user would.
 * Each is refused at apply time, or ends in a clear condition (documented reason, current generation, a message);
 * the operator neither crashes nor stalls (a good PhoneNumber applied afterwards still turns Ready), and every
 * accepted object can still be deleted. The BirdWorkspaces the issue names (missing Secret, wrong key, unreachable
 * endpoint) report their own reason.
 */
export async function badInput(env: ChaosEnv, report: ScenarioReport, random: Random): Promise<void> {
  const sim = await env.simulator({ provisioningDelayMs: 50 });
  const fixture = await env.fixture(sim.url, sim.sim.identity.accessKey, {
    policy: { allowedCountries: ["US", "CA", "GB", "NL", "FR", "ZZ"] },
  });
  const firstProcess = env.processes.length;
  const operator = env.operator(fixture);
  await operator.leading;
  const context = await prepare(env, sim, fixture);
  if (!report.check(context !== undefined, "the reference PhoneNumber never turned Ready") || !context) return;
  const inputs = generateBadInputs(context, random, 200);
  const workspaces = brokenWorkspaces(context, `http://127.0.0.1:${await freePortUnused()}`);
  const accepted = await applyAll(env, report, inputs, workspaces);
  const objects = await awaitClearConditions(env, report, context, accepted, workspaces);
  const reasons = new Map<string, number>();
  for (const [key, input] of accepted) {
    const ready = readyOf(objects.get(key) ?? {});
    reasons.set(ready?.reason ?? "none", (reasons.get(ready?.reason ?? "none") ?? 0) + 1);
    if (ready?.reason === "ReconcileError") report.note(`${input.file}: ReconcileError: ${ready.message}`);
  }
  report.figure("acceptedEndedIn", [...reasons].map(([r, n]) => `${r}:${n}`).join(","));
  report.figure("brokenWorkspaces", workspaces.map((w) => w.reason).join(","));
  await checkNotStalled(env, report, fixture, operator);
  // Nothing bought twice or left unowned, bad input or not (resources with made-up number ids own nothing bought).
  const bought = new Set(sim.sim.state.purchases().map((p) => p.numberId));
  auditNumbers(
    report,
    sim,
    (await env.phoneNumbers(fixture.namespace)).filter((p) => bought.has(numberIdOf(p) ?? "")),
  );
  await checkDeletable(env, report, sim, fixture);
  report.check(operator.running, "the operator exited on bad input");
  await operator.kill("SIGTERM");
  reportCrashes(report, env, firstProcess);
}

/** A registered sender, a Secret with a key Bird refuses, and a PhoneNumber that owns a number (for conflicts). */
async function prepare(env: ChaosEnv, sim: RunningSimulator, fixture: Fixture): Promise<BadInputContext | undefined> {
  const sender = sim.sim.addSender({
    alphaString: "BADINPUT",
    workspaceId: WORKSPACE_ID,
    activeCountries: [],
    blockedCountries: ["FR"],
  });
  const wrongKey = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "wrong-access-key", namespace: fixture.namespace },
    stringData: { accessKey: env.newAccessKey() },
  };
  await env.apply(env.phoneNumber(fixture, "owner", { countryCode: "US", type: "local" }), wrongKey);
  const owner = await waitFor(async () => {
    const pn = (await env.phoneNumbers(fixture.namespace)).find((p) => nameOf(p) === "owner");
    return pn?.status?.numberString && readyOf(pn)?.status === "True" ? pn.status.numberString : undefined;
  }, 30_000);
  if (!owner) return undefined;
  const label = { "bird-chaos": fixture.namespace };
  return {
    namespace: fixture.namespace,
    workspace: fixture.workspace,
    label,
    endpoint: sim.url,
    sender: { alphaString: sender.alphaString, blockedCountry: "FR" },
    ownedNumber: owner,
  };
}

/** One `kubectl apply -f <dir>` of every generated file; returns the accepted ones by `Kind/name`. */
async function applyAll(
  env: ChaosEnv,
  report: ScenarioReport,
  inputs: BadInput[],
  workspaces: Broken,
): Promise<Map<string, BadInput>> {
  const dir = mkdtempSync(join(tmpdir(), "bird-chaos-bad-input-"));
  try {
    for (const input of inputs) writeFileSync(join(dir, input.file), input.text);
    const applied = await env.kubectl(["apply", "-f", dir], { allowFailure: true, timeoutMs: 300_000 });
    await env.apply(...workspaces.map((w) => w.doc));
    const outcome = classify(inputs, dir, applied.stdout, applied.stderr);
    report.figure("manifests", inputs.length);
    report.figure("rejectedAtApply", outcome.rejected.length);
    report.figure("accepted", outcome.accepted.length);
    for (const input of outcome.unaccounted) report.violation(`${input.file}: kubectl neither created nor refused it`);
    for (const { input, message } of outcome.rejected) {
      report.check(
        message.length > 0 && !/panic|internal error/i.test(message),
        `${input.file}: refused without a usable message: ${message}`,
      );
    }
    return new Map(outcome.accepted.map((i) => [`${i.kind}/${i.name}`, i]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every accepted object ends in a clear condition, the ones with a single right answer in that one. */
async function awaitClearConditions(
  env: ChaosEnv,
  report: ScenarioReport,
  context: BadInputContext,
  accepted: Map<string, BadInput>,
  workspaces: Broken,
): Promise<Objects> {
  const deadline = Date.now() + (env.short ? 60_000 : 120_000);
  for (;;) {
    const objects = await acceptedObjects(env, context);
    const problems: string[] = [];
    for (const [key, input] of accepted) {
      const object = objects.get(key);
      const problem = object ? clearCondition(object) : "accepted, then gone";
      const ready = readyOf(object ?? {});
      if (problem) problems.push(`${input.file}: ${problem}`);
      else if (input.expectReason && ready?.reason !== input.expectReason)
        problems.push(
          `${input.file}: Ready reason ${ready?.reason} (${ready?.message}), expected ${input.expectReason}`,
        );
    }
    for (const w of workspaces) {
      const ready = readyOf(objects.get(`BirdWorkspace/${w.name}`) ?? {});
      if (ready?.reason !== w.reason || !ready.message)
        problems.push(
          `BirdWorkspace ${w.name}: Ready reason ${ready?.reason ?? "none"} (${ready?.message ?? ""}), ` +
            `expected ${w.reason}`,
        );
    }
    if (problems.length === 0 || Date.now() > deadline) {
      for (const problem of problems) report.violation(problem);
      return objects;
    }
    await sleep(2000);
  }
}

/** Not stalled: a good resource applied after the flood still turns Ready promptly, and the process is healthy. */
async function checkNotStalled(
  env: ChaosEnv,
  report: ScenarioReport,
  fixture: Fixture,
  operator: OperatorProcess,
): Promise<void> {
  const started = Date.now();
  await env.apply(env.phoneNumber(fixture, "after-the-flood", { countryCode: "NL", type: "mobile" }));
  const canary = await env.kubectl(
    ["wait", "--for=condition=Ready", "pn/after-the-flood", "-n", fixture.namespace, "--timeout=30s"],
    { allowFailure: true },
  );
  report.check(
    canary.code === 0,
    `a valid PhoneNumber applied after the bad input did not turn Ready: ${canary.stderr.trim()}`,
  );
  report.figure("canaryReadyMs", Date.now() - started);
  const health = operator.addresses().health;
  const healthy = health
    ? await fetch(`http://${health}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    : false;
  report.check(healthy, "the operator's /healthz does not answer");
}

/** Bad input never blocks deletion: every object goes once deleted, and no number is paid for afterwards. */
async function checkDeletable(
  env: ChaosEnv,
  report: ScenarioReport,
  sim: RunningSimulator,
  fixture: Fixture,
): Promise<void> {
  const deleting = Date.now();
  await env.kubectl(["delete", "pn,alphasender", "--all", "-n", fixture.namespace, "--wait=false"]);
  const left = await waitFor(async () => {
    const remaining = [...(await env.phoneNumbers(fixture.namespace)), ...(await env.alphaSenders(fixture.namespace))];
    return remaining.length === 0 ? [] : Date.now() - deleting > 30_000 ? remaining : undefined;
  }, 35_000);
  for (const object of left ?? [])
    report.violation(
      `${object.kind} ${nameOf(object)} cannot be deleted: ` +
        `${readyOf(object)?.reason} ${readyOf(object)?.message ?? ""}`,
    );
  report.figure("deletedAfterwardsMs", Date.now() - deleting);
  const paid = paidNumbers(sim);
  report.check(
    paid.length === 0,
    `${paid.length} numbers still paid for after every PhoneNumber was deleted: ${paid.slice(0, 5).join(", ")}`,
  );
}

/** What kubectl did with each file: created (stdout names the object) or refused (stderr names the file). */
function classify(
  inputs: BadInput[],
  dir: string,
  stdout: string,
  stderr: string,
): { accepted: BadInput[]; rejected: { input: BadInput; message: string }[]; unaccounted: BadInput[] } {
  const created = new Set(
    stdout
      .split("\n")
      .map((l) => /^(\w+)\.numbers\.birdoperator\.dev\/(\S+) created$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => `${m[1]}/${m[2]}`),
  );
  const errors = stderr.split("\n");
  const accepted: BadInput[] = [];
  const rejected: { input: BadInput; message: string }[] = [];
  const unaccounted: BadInput[] = [];
  for (const input of inputs) {
    if (input.kind && input.name && created.has(`${input.kind.toLowerCase()}/${input.name}`)) {
      accepted.push(input);
      continue;
    }
    const message = errors.filter((l) => l.includes(join(dir, input.file))).join(" ");
    if (message) rejected.push({ input, message });
    else unaccounted.push(input);
  }
  return { accepted, rejected, unaccounted };
}

async function acceptedObjects(env: ChaosEnv, context: BadInputContext): Promise<Objects> {
  const selector = Object.entries(context.label)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  const workspaces = (await env.getJson<{ items: BirdWorkspace[] }>(["birdworkspaces", "-l", selector])).items;
  const all = [
    ...(await env.phoneNumbers(context.namespace)),
    ...(await env.alphaSenders(context.namespace)),
    ...workspaces,
  ];
  return new Map(all.map((o) => [`${o.kind}/${nameOf(o)}`, o]));
}

import type { BirdWorkspace } from "../../src/api/v1alpha1/index.js";
import { readyOf, reportCrashes, waitAllReady } from "../lib/checks.js";
import { sleep, waitFor, WORKSPACE_ID, type ChaosEnv, type Fixture } from "../lib/env.js";
import { KeyGateway } from "../lib/gateway.js";
import type { ScenarioReport } from "../lib/report.js";
import { phoneNumberSpec, type Random } from "../lib/specs.js";

/**
 * Issue #9 scenario 7: the AccessKey Secret is rotated (old and new key valid for a while, then the old one revoked),
 * rotated to a key Bird refuses and back, with the operator at trace level. Each rotation is picked up without a
 * restart. Then every AccessKey the campaign used is searched for, raw and base64-encoded, in everything the
 * operator produced: the output of every operator process of the campaign (all levels), Events, the status and
 * conditions of every resource, and /metrics.
 */
export async function secrets(env: ChaosEnv, report: ScenarioReport, random: Random): Promise<void> {
  const sim = await env.simulator({ provisioningDelayMs: 50 });
  const gateway = new KeyGateway(sim.url, sim.sim.identity.accessKey);
  await gateway.start();
  const [first, second, refused] = [env.newAccessKey(), env.newAccessKey(), env.newAccessKey()];
  gateway.accepted.add(first);
  const fixture = await env.fixture(gateway.url, first);
  const firstProcess = env.processes.length;
  const operator = env.operator(fixture, { logLevel: "trace" });
  try {
    await operator.leading;
    sim.sim.addSender({ alphaString: "SECRETS", workspaceId: WORKSPACE_ID });
    await env.apply(
      ...Array.from({ length: 3 }, (_, i) => env.phoneNumber(fixture, `keyed-${i}`, phoneNumberSpec(random))),
      env.alphaSender(fixture, "keyed-sender", { alphaString: "SECRETS", countries: ["NL", "BE"] }),
    );
    const before = await waitAllReady(() => env.phoneNumbers(fixture.namespace), 3, 30_000);
    report.check(before.ok, `not Ready with the first key: ${before.stragglers.join("; ")}`);

    // Rotation: both keys valid, the Secret changes, the operator moves to the new key, the old key is revoked.
    gateway.accepted.add(second);
    const rotatedAt = Date.now();
    await setKey(env, fixture, second);
    const pickedUp = await waitFor(
      () => (gateway.usesOf(second).count > 0 ? Date.now() - rotatedAt : undefined),
      30_000,
      100,
    );
    report.check(pickedUp !== undefined, "the rotated key was never used");
    report.figure("rotationPickedUpMs", pickedUp ?? -1);
    await sleep(1000);
    const oldKeyUsedAfter = gateway.usesOf(first).last > rotatedAt + (pickedUp ?? 0) + 500;
    report.check(!oldKeyUsedAfter, "the old key was still used after the rotation was picked up");
    gateway.accepted.delete(first);
    await env.apply(env.phoneNumber(fixture, "after-rotation", phoneNumberSpec(random)));
    const after = await waitAllReady(() => env.phoneNumbers(fixture.namespace), 4, 30_000);
    report.check(after.ok, `not Ready after the old key was revoked: ${after.stragglers.join("; ")}`);
    report.check(
      readyOf(await env.workspace(fixture.workspace))?.status === "True",
      "the workspace is not Ready on the rotated key",
    );

    // A key Bird refuses: the workspace says so, clearly; then the good key again (with a stray newline, as
    // `echo key | base64` leaves it), and it recovers, still without a restart.
    const refusedAt = Date.now();
    await setKey(env, fixture, refused);
    const unauthorized = await waitFor(
      async () =>
        readyOf(await env.workspace(fixture.workspace))?.reason === "Unauthorized" ? Date.now() - refusedAt : undefined,
      30_000,
      250,
    );
    report.check(
      unauthorized !== undefined,
      "a refused key did not turn the workspace Unauthorized: " +
        `${JSON.stringify(readyOf(await env.workspace(fixture.workspace)))}`,
    );
    report.figure("refusedKeyReportedMs", unauthorized ?? -1);
    const restoredAt = Date.now();
    await setKey(env, fixture, `${second}\n`);
    const recovered = await waitFor(
      async () =>
        readyOf(await env.workspace(fixture.workspace))?.status === "True" ? Date.now() - restoredAt : undefined,
      30_000,
      250,
    );
    report.check(recovered !== undefined, "the workspace did not recover on the good key");
    report.figure("recoveredMs", recovered ?? -1);
    report.figure("operatorRestarts", env.processes.length - firstProcess - 1);

    const metrics = operator.addresses().metrics;
    const metricsText = metrics
      ? await fetch(`http://${metrics}/metrics`).then(
          (r) => r.text(),
          () => "",
        )
      : "";
    report.check(metricsText.length > 0, "could not read /metrics");
    await scanForKeys(env, report, metricsText);
  } finally {
    await operator.kill("SIGTERM");
    await gateway.close();
  }
  reportCrashes(report, env, firstProcess);
}

async function setKey(env: ChaosEnv, fixture: Fixture, key: string): Promise<void> {
  await env.apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "bird-access-key", namespace: fixture.namespace },
    stringData: { accessKey: key },
  });
}

/** Every key the campaign handed out, raw and as base64 (how a Secret carries it), must appear nowhere. */
async function scanForKeys(env: ChaosEnv, report: ScenarioReport, metricsText: string): Promise<void> {
  const needles = [...env.accessKeys].flatMap((key) => [
    key,
    Buffer.from(key).toString("base64"),
    Buffer.from(`${key}\n`).toString("base64"),
  ]);
  const events = (await env.kubectl(["get", "events", "-A", "-o", "json"])).stdout;
  const resources = (await env.kubectl(["get", "phonenumbers,alphasenders", "-A", "-o", "json"])).stdout;
  const workspaces = (await env.kubectl(["get", "birdworkspaces", "-o", "json"])).stdout;
  const leases = (await env.kubectl(["get", "leases", "-A", "-o", "json"])).stdout;
  const haystacks: [string, string][] = [
    ["Events", events],
    ["PhoneNumber/AlphaSender status", resources],
    ["BirdWorkspace status", workspaces],
    ["Leases", leases],
    ["/metrics", metricsText],
    ...env.processes.map((p): [string, string] => [`output of operator ${p.name} (pid ${p.pid})`, p.output()]),
  ];
  let bytes = 0;
  for (const [where, text] of haystacks) {
    bytes += text.length;
    for (const needle of needles) if (text.includes(needle)) report.violation(`an AccessKey appears in ${where}`);
  }
  const levels: Record<string, number> = {};
  for (const p of env.processes)
    for (const line of p.logLines()) levels[String(line.level)] = (levels[String(line.level)] ?? 0) + 1;
  report.figure("keysSearchedFor", env.accessKeys.size);
  report.figure("bytesScanned", bytes);
  report.figure("processesScanned", env.processes.length);
  report.figure(
    "logLinesScannedByLevel",
    Object.entries(levels)
      .map(([l, n]) => `${l}:${n}`)
      .join(","),
  );
  report.figure("eventsScanned", (JSON.parse(events) as { items: unknown[] }).items.length);
  const ws = JSON.parse(workspaces) as { items: BirdWorkspace[] };
  report.figure("workspacesScanned", ws.items.length);
}

import type { AlphaSender, PhoneNumber } from "../../src/api/v1alpha1/index.js";
import {
  auditNumbers,
  clearCondition,
  faultCounts,
  nameOf,
  readyOf,
  reportCrashes,
  waitAllReady,
} from "../lib/checks.js";
import { sleep, waitFor, WORKSPACE_ID, type ChaosEnv } from "../lib/env.js";
import { countByReason, eventsIn } from "../lib/events.js";
import { startFaultDriver } from "../lib/faults.js";
import type { ScenarioReport } from "../lib/report.js";
import { ALPHA_COUNTRIES, phoneNumberSpec, sample, type Random } from "../lib/specs.js";

/**
 * Issue #9 scenario 2: 20 % of Bird's answers 500/503, 429 bursts, latency spikes, connection resets and truncated
 * bodies while PhoneNumbers and AlphaSenders are created. Meanwhile every resource's conditions say what is wrong;
 * once the faults stop everything converges, nothing is bought twice, and the operator never exits.
 */
export async function birdFaults(env: ChaosEnv, report: ScenarioReport, random: Random): Promise<void> {
  const numbers = env.short ? 10 : 40;
  const senders = env.short ? 4 : 12;
  const faultMs = env.short ? 15_000 : 60_000;
  const sim = await env.simulator({ provisioningDelayMs: 150 });
  const fixture = await env.fixture(sim.url, sim.sim.identity.accessKey);
  const firstProcess = env.processes.length;
  // The purchase grace must outlast the slowest answer Bird may still act on (a spike of up to 3 s here), as the
  // 5-minute default does in production: otherwise an intent would be dropped while its buy is still under way.
  const operator = env.operator(fixture, { extraArgs: ["--bird-timeout=1s", "--purchase-grace=8s"] });
  await operator.leading;
  await waitFor(
    async () => (readyOf(await env.workspace(fixture.workspace))?.status === "True" ? true : undefined),
    30_000,
  );

  const driver = startFaultDriver(
    sim,
    random,
    { errorRate: 0.2, resetRate: 0.05, malformedRate: 0.05 },
    { spikeMs: 1500 },
  );
  const docs = [
    ...Array.from({ length: numbers }, (_, i) => env.phoneNumber(fixture, `faulty-${i}`, phoneNumberSpec(random))),
    ...Array.from({ length: senders }, (_, i) => {
      const alphaString = `CHAOS${i}X${Math.floor(random() * 1000)}`;
      sim.sim.addSender({ alphaString, workspaceId: WORKSPACE_ID });
      return env.alphaSender(fixture, `sender-${i}`, {
        alphaString,
        countries: sample(random, ALPHA_COUNTRIES, 1 + Math.floor(random() * 3)).sort(),
      });
    }),
  ];
  await env.apply(...docs);
  report.figure("resources", numbers + senders);
  report.figure("phoneNumbers", numbers);
  report.figure("alphaSenders", senders);

  // While Bird misbehaves: what the resources say about it.
  const syncedFalse = new Map<string, number>();
  const messages = new Set<string>();
  const deadline = Date.now() + faultMs;
  let samples = 0;
  while (Date.now() < deadline) {
    await sleep(1000);
    const objects: (PhoneNumber | AlphaSender)[] = [
      ...(await env.phoneNumbers(fixture.namespace)),
      ...(await env.alphaSenders(fixture.namespace)),
    ];
    samples++;
    for (const object of objects) {
      const synced = object.status?.conditions?.find((c) => c.type === "Synced");
      if (synced?.status === "False") {
        syncedFalse.set(synced.reason, (syncedFalse.get(synced.reason) ?? 0) + 1);
        messages.add(`${synced.reason}: ${synced.message.replace(/[0-9a-f]{8}-[0-9a-f-]{27}|\+\d+/g, "…")}`);
        report.check(
          Boolean(synced.message?.trim()) && !/undefined|\[object Object\]/.test(synced.message),
          `${nameOf(object)} Synced=False (${synced.reason}) says nothing useful: "${synced.message}"`,
        );
      }
    }
  }
  // At the end of the faults, everything not Ready says why, for its current generation.
  for (const object of [
    ...(await env.phoneNumbers(fixture.namespace)),
    ...(await env.alphaSenders(fixture.namespace)),
  ]) {
    const problem = clearCondition(object);
    if (problem && readyOf(object)) report.violation(`${object.kind} ${nameOf(object)} during faults: ${problem}`);
  }
  driver.stop();
  const faults = faultCounts(sim);
  const injected = Object.values(faults).reduce((a, b) => a + b, 0);
  report.figure("birdRequests", sim.sim.calls().total);
  report.figure("faultsInjected", injected);
  for (const [kind, count] of Object.entries(faults)) report.figure(`faults.${kind}`, count);
  report.figure("latencySpikes", driver.phases["latency-spike"] ?? 0);
  report.figure("ambiguousBuyPhases", driver.phases["ambiguous-buys"] ?? 0);
  report.figure(
    "faultsOnBuys",
    sim.sim
      .calls()
      .recent.filter((c) => c.fault && c.method === "POST" && c.route === "/workspaces/{workspaceId}/numbers-long-code")
      .length,
  );
  report.figure("syncedFalseSeen", [...syncedFalse].map(([r, n]) => `${r}:${n}`).join(",") || "none");
  report.note(`sampled conditions ${samples} times while faulty; what they said:`);
  for (const message of [...messages].slice(0, 8)) report.note(`  ${message}`);

  const timeout = env.short ? 60_000 : 180_000;
  const pns = await waitAllReady(() => env.phoneNumbers(fixture.namespace), numbers, timeout);
  report.check(pns.ok, `PhoneNumbers not Ready after the faults stopped: ${pns.stragglers.slice(0, 8).join("; ")}`);
  const alphas = await waitAllReady(() => env.alphaSenders(fixture.namespace), senders, pns.ok ? 30_000 : 5_000);
  report.check(
    alphas.ok,
    `AlphaSenders not Ready after the faults stopped: ${alphas.stragglers.slice(0, 8).join("; ")}`,
  );
  report.figure("convergenceAfterFaultsMs", Math.max(pns.ms, alphas.ms));
  auditNumbers(report, sim, pns.items);

  const events = await eventsIn(env, fixture.namespace);
  const warnings = countByReason(events, "Warning");
  report.figure(
    "warningEvents",
    Object.entries(warnings)
      .map(([r, n]) => `${r}:${n}`)
      .join(",") || "none",
  );
  report.check(
    events.filter((e) => e.type === "Warning").every((e) => Boolean(e.message?.trim())),
    "a Warning event has no message",
  );
  // Buys are not retried on 5xx, so with faults on every buy some must have surfaced on a resource or in an event.
  report.check(
    injected < 20 || syncedFalse.size > 0 || Object.keys(warnings).length > 0,
    `${injected} faults injected and no condition or event ever said so`,
  );
  report.check(operator.running, "the operator exited during the faults");
  await operator.kill("SIGTERM");
  reportCrashes(report, env, firstProcess);
}

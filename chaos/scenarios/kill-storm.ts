import { auditNumbers, reportCrashes, waitAllReady } from "../lib/checks.js";
import { sleep, type ChaosEnv } from "../lib/env.js";
import { countByReason, eventsIn } from "../lib/events.js";
import type { OperatorProcess } from "../../test/support/operator-process.js";
import type { ScenarioReport } from "../lib/report.js";
import { phoneNumberSpec, pick, type Random } from "../lib/specs.js";

type KillMoment = "during-startup" | "while-reconciling" | "right-after-a-purchase";

/**
 * Issue #9 scenario 1: PhoneNumbers provisioning while the operator process is SIGKILLed at random moments and
 * restarted each time. At the end every resource is Ready with exactly one number, Bird's purchase log has exactly
 * one purchase per resource, and the workspace holds no number that no resource owns.
 */
export async function killStorm(env: ChaosEnv, report: ScenarioReport, random: Random): Promise<void> {
  const resources = env.short ? 24 : 200;
  const targetKills = env.short ? 10 : 120;
  const sim = await env.simulator({ provisioningDelayMs: 150, faults: { latencyMs: 5, jitterMs: 40 } });
  const fixture = await env.fixture(sim.url, sim.sim.identity.accessKey);
  const firstProcess = env.processes.length;
  // Resources arrive in waves over the first 60 % of the kills, so that every kill lands while numbers provision.
  const docs = Array.from({ length: resources }, (_, i) =>
    env.phoneNumber(fixture, `storm-${i}`, phoneNumberSpec(random)),
  );
  const perWave = Math.ceil(resources / Math.ceil(targetKills * 0.6));
  report.figure("resources", resources);
  const startupMs: number[] = [];

  const moments: Record<KillMoment, number> = {
    "during-startup": 0,
    "while-reconciling": 0,
    "right-after-a-purchase": 0,
  };
  let kills = 0;
  let purchasesAtLastKill = 0;
  while (kills < targetKills) {
    const wave = docs.splice(0, perWave);
    if (wave.length) await env.apply(...wave);
    const operator = env.operator(fixture);
    void operator.leading.then((at) => at && startupMs.push(at - operator.spawnedAt));
    // Mostly while it works; some while it starts;
    // some the instant Bird has processed a buy the process may not have recorded.
    const moment = pick<KillMoment>(random, [
      "during-startup",
      "while-reconciling",
      "while-reconciling",
      "right-after-a-purchase",
      "right-after-a-purchase",
    ]);
    if (moment === "during-startup") await Promise.race([sleep(random() * 2500), operator.exited]);
    else if (moment === "while-reconciling") {
      await operator.leading;
      await Promise.race([sleep(random() * 2500), operator.exited]);
    } else {
      await operator.leading;
      await afterNextPurchase(() => sim.sim.state.purchases().length, operator, 3000);
    }
    if (!operator.running) break;
    await operator.kill("SIGKILL");
    kills++;
    moments[moment]++;
    purchasesAtLastKill = sim.sim.state.purchases().length;
  }
  report.figure("kills", kills);
  for (const [moment, count] of Object.entries(moments)) report.figure(`kills.${moment}`, count);
  report.figure("purchasesDuringStorm", purchasesAtLastKill);
  report.figure("meanStartupMs", Math.round(startupMs.reduce((a, b) => a + b, 0) / Math.max(1, startupMs.length)));
  report.check(kills >= targetKills, `only ${kills} of ${targetKills} kills happened`);

  const final = env.operator(fixture);
  const settled = await waitAllReady(
    () => env.phoneNumbers(fixture.namespace),
    resources,
    env.short ? 60_000 : 240_000,
  );
  report.figure("convergenceAfterStormMs", settled.ms);
  report.check(
    settled.ok,
    `not every PhoneNumber is Ready after the storm: ${settled.stragglers.slice(0, 10).join("; ")}`,
  );
  // Give a late, unrecorded purchase the chance to land before auditing.
  await sleep(1000);
  auditNumbers(report, sim, await env.phoneNumbers(fixture.namespace));
  const events = countByReason(await eventsIn(env, fixture.namespace));
  report.figure("interruptedPurchasesAdopted", events.Adopted ?? 0);
  report.figure("interruptedPurchasesRetried", events.PurchaseIntentCleared ?? 0);
  await final.kill("SIGTERM");
  reportCrashes(report, env, firstProcess);
}

/** Resolves the instant Bird's purchase log grows (polling on the event loop that also runs the simulator). */
async function afterNextPurchase(
  purchaseCount: () => number,
  operator: OperatorProcess,
  timeoutMs: number,
): Promise<void> {
  const before = purchaseCount();
  const deadline = Date.now() + timeoutMs;
  await new Promise<void>((resolve) => {
    const poll = (): void => {
      if (purchaseCount() > before || !operator.running || Date.now() > deadline) resolve();
      else setImmediate(poll);
    };
    poll();
  });
}

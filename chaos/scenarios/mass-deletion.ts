import type { AlphaSender, PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { FINALIZER } from "../../src/api/v1alpha1/conditions.js";
import type { RunningSimulator } from "../../src/simulator/index.js";
import {
  faultCounts,
  mainSubscription,
  nameOf,
  numberIdOf,
  paidNumbers,
  reportCrashes,
  waitAllReady,
} from "../lib/checks.js";
import { sleep, waitFor, WORKSPACE_ID, type ChaosEnv } from "../lib/env.js";
import { countByReason, eventsIn } from "../lib/events.js";
import type { ScenarioReport } from "../lib/report.js";
import { ALPHA_COUNTRIES, phoneNumberSpec, sample, type Random } from "../lib/specs.js";

const CANCEL = "cancelSubscription";

/**
 * Issue #9 scenario 5: every PhoneNumber and AlphaSender is deleted at once while Bird fails. First Bird refuses every
 * cancellation (nothing may go), then fails half of all calls (whatever goes must have been cancelled first), then
 * recovers: every subscription ends cancelled and every resource gone.
 */
export async function massDeletion(env: ChaosEnv, report: ScenarioReport, random: Random): Promise<void> {
  const numbers = env.short ? 10 : 50;
  const senders = env.short ? 3 : 10;
  const sim = await env.simulator({ provisioningDelayMs: 100 });
  const fixture = await env.fixture(sim.url, sim.sim.identity.accessKey);
  const firstProcess = env.processes.length;
  const operator = env.operator(fixture, { extraArgs: ["--bird-timeout=1s"] });
  const senderIds = new Map<string, string>();
  await env.apply(
    ...Array.from({ length: numbers }, (_, i) => env.phoneNumber(fixture, `doomed-${i}`, phoneNumberSpec(random))),
    ...Array.from({ length: senders }, (_, i) => {
      const alphaString = `DOOM${i}X${Math.floor(random() * 1000)}`;
      senderIds.set(`doomed-sender-${i}`, sim.sim.addSender({ alphaString, workspaceId: WORKSPACE_ID }).id);
      return env.alphaSender(fixture, `doomed-sender-${i}`, {
        alphaString,
        countries: sample(random, ALPHA_COUNTRIES, 2).sort(),
      });
    }),
  );
  report.figure("resources", numbers + senders);
  const pns = await waitAllReady(() => env.phoneNumbers(fixture.namespace), numbers, 60_000);
  const alphas = await waitAllReady(() => env.alphaSenders(fixture.namespace), senders, 30_000);
  if (
    !report.check(
      pns.ok && alphas.ok,
      `resources not Ready before the deletion: ${[...pns.stragglers, ...alphas.stragglers].slice(0, 6).join("; ")}`,
    )
  )
    return;
  const numberIds = new Map(pns.items.map((pn) => [nameOf(pn), numberIdOf(pn) ?? ""]));

  // Phase 1: Bird refuses every cancellation. Nothing may disappear.
  sim.sim.setFaults({ errorRate: 1, routes: [CANCEL] });
  await env.kubectl(["delete", "pn,alphasender", "--all", "-n", fixture.namespace, "--wait=false"]);
  const holdMs = env.short ? 4000 : 10_000;
  await sleep(holdMs);
  const held = [...(await env.phoneNumbers(fixture.namespace)), ...(await env.alphaSenders(fixture.namespace))];
  report.figure("heldWhileCancelRefused", held.length);
  report.check(
    held.length === numbers + senders,
    `${numbers + senders - held.length} resources went while Bird refused every cancellation`,
  );
  for (const object of held) {
    report.check(
      Boolean(object.metadata?.deletionTimestamp && object.metadata.finalizers?.includes(FINALIZER)),
      `${nameOf(object)} is not held by the finalizer`,
    );
  }
  // Each cancellation is retried with backoff inside the client before it fails: give the first ones time to fail.
  const sayingWhy = (objects: (PhoneNumber | AlphaSender)[]): number =>
    objects.filter((o) =>
      o.status?.conditions?.some(
        (c) => c.type === "Synced" && c.status === "False" && /cancel|50[03]/i.test(c.message ?? ""),
      ),
    ).length;
  const saying = await waitFor(async () => {
    const count = sayingWhy([
      ...(await env.phoneNumbers(fixture.namespace)),
      ...(await env.alphaSenders(fixture.namespace)),
    ]);
    return count > 0 ? count : undefined;
  }, 30_000);
  report.figure("sayingWhyWhileHeld", saying ?? 0);
  report.check(
    saying !== undefined,
    "no held resource says why it is held (Synced=False naming the failed cancellation)",
  );
  const stillHeld =
    (await env.phoneNumbers(fixture.namespace)).length + (await env.alphaSenders(fixture.namespace)).length;
  report.check(
    stillHeld === numbers + senders,
    `${numbers + senders - stillHeld} resources went while Bird refused every cancellation`,
  );

  // Phase 2: half of everything fails, resets and truncated answers included. Whatever goes must be cancelled.
  sim.sim.setFaults({ errorRate: 0.5, resetRate: 0.1, malformedRate: 0.1, seed: Math.floor(random() * 2 ** 31) });
  const flakyUntil = Date.now() + (env.short ? 5000 : 20_000);
  const checked = new Set<string>();
  while (Date.now() < flakyUntil) {
    await sleep(300);
    checkGone(report, sim, await remaining(env, fixture.namespace), numberIds, senderIds, checked);
  }
  sim.sim.setFaults({});
  const faults = faultCounts(sim);
  report.figure(
    "faultsInjected",
    Object.values(faults).reduce((a, b) => a + b, 0),
  );

  // Phase 3: Bird recovers. Everything goes, and everything was cancelled.
  const gone = await waitFor(
    async () => ((await remaining(env, fixture.namespace)).size === 0 ? true : undefined),
    env.short ? 60_000 : 180_000,
  );
  const left = await remaining(env, fixture.namespace);
  checkGone(report, sim, left, numberIds, senderIds, checked);
  report.check(
    gone === true,
    `${left.size} resources still exist after Bird recovered: ${[...left].slice(0, 6).join(", ")}`,
  );
  const activeNumbers = paidNumbers(sim).length;
  let activeSenderCountries = 0;
  for (const id of senderIds.values()) activeSenderCountries += activeCountriesOf(sim, id).length;
  report.figure("subscriptionsStillActive", activeNumbers + activeSenderCountries);
  report.check(
    activeNumbers === 0,
    `${activeNumbers} numbers still have an active subscription after their resources were deleted`,
  );
  report.check(
    activeSenderCountries === 0,
    `${activeSenderCountries} sender countries are still active after their AlphaSenders were deleted`,
  );
  report.figure(
    "subscriptionsCancelled",
    countByReason(await eventsIn(env, fixture.namespace)).SubscriptionCancelled ?? 0,
  );
  report.check(operator.running, "the operator exited during the mass deletion");
  await operator.kill("SIGTERM");
  reportCrashes(report, env, firstProcess);
}

async function remaining(env: ChaosEnv, namespace: string): Promise<Set<string>> {
  const objects: (PhoneNumber | AlphaSender)[] = [
    ...(await env.phoneNumbers(namespace)),
    ...(await env.alphaSenders(namespace)),
  ];
  return new Set(objects.map(nameOf));
}

/** Every resource that has gone must have released what it held in Bird before its finalizer went. */
function checkGone(
  report: ScenarioReport,
  sim: RunningSimulator,
  left: Set<string>,
  numberIds: Map<string, string>,
  senderIds: Map<string, string>,
  checked: Set<string>,
): void {
  for (const [name, id] of numberIds) {
    if (left.has(name) || checked.has(name)) continue;
    checked.add(name);
    report.check(
      mainSubscription(sim, id) !== "active",
      `PhoneNumber ${name} went while its number's subscription was still active`,
    );
  }
  for (const [name, id] of senderIds) {
    if (left.has(name) || checked.has(name)) continue;
    checked.add(name);
    const active = activeCountriesOf(sim, id);
    report.check(active.length === 0, `AlphaSender ${name} went while countries ${active.join(",")} were still active`);
  }
}

/** Countries of a sender with an active subscription (a sender pays per country). */
function activeCountriesOf(sim: RunningSimulator, senderId: string): string[] {
  return sim.sim.state
    .subscriptions(sim.sim.state.anyEndpoint(senderId))
    .results.filter((s) => s.status === "active")
    .map((s) => s.name);
}

import type { BirdNumber } from "../../src/api/v1alpha1/index.js";
import type { NumberStockItem } from "../../src/simulator/index.js";
import { auditNumbers, reportCrashes, waitAllReady } from "../lib/checks.js";
import { sleep, waitFor, ORGANIZATION_ID, type ChaosEnv } from "../lib/env.js";
import { waitForOutput } from "../../test/support/operator-process.js";
import type { ScenarioReport } from "../lib/report.js";
import type { Random } from "../lib/specs.js";

const LEASE = { leaseName: "bird-operator", leaseDuration: "4s", renewDeadline: "3s", retryPeriod: "1s" };
const BUY = "buyLongCodeNumbers";
const BUY_ROUTE = "/workspaces/{workspaceId}/numbers-long-code";
/** What the Bird client logs when a guard stops a request right before it leaves. */
const GUARD_REFUSAL = "Bird request not sent: its guard refused";

/**
 * Issue #21: a leader frozen (SIGSTOP) past its lease while its buys wait (Bird answers every buy 429, so each sits
 * between a 429 and its retry, or in the rate limiter), a standby that takes over and buys, and the old leader
 * thawed (SIGCONT) with its buys still queued. Its lease is gone: not one of those buys may reach Bird. The resources
 * are pinned to distinct numbers and some are deleted while the leader is frozen, so a stale buy cannot hide behind
 * a 422 for an item the new leader bought: it would be a purchase no resource owns.
 */
export async function staleLeader(env: ChaosEnv, report: ScenarioReport, random: Random): Promise<void> {
  const resources = env.short ? 8 : 24;
  // Bird keeps idle connections longer than the freeze, as a load balancer would: a stale buy finds its way there.
  const sim = await env.simulator({ provisioningDelayMs: 100, keepAliveMs: 120_000 });
  sim.sim.setFaults({ rateLimitBurst: { count: 1_000_000 }, routes: [BUY] });
  const fixture = await env.fixture(sim.url, sim.sim.identity.accessKey);
  const firstProcess = env.processes.length;
  const leader = env.operator(fixture, { leaderElection: LEASE });
  await leader.leading;
  const standby = env.operator(fixture, { leaderElection: LEASE });
  await waitForOutput(standby, "Caches synced", 30_000);

  const items = pinnedNumbers(
    sim.sim.state.listStock(
      ORGANIZATION_ID,
      { countryCodes: ["NL", "GB", "DE"], types: ["mobile"] },
      { limit: 99, reverse: false },
    ).results,
    resources,
    random,
  );
  await env.apply(
    ...items.map((item, i) =>
      env.phoneNumber(fixture, `stale-${i}`, {
        countryCode: item.countryCode,
        type: item.type,
        numberString: item.numberString,
      }),
    ),
  );
  // A buy is on its way while the resource's ownership record says Purchasing (claimed before the buy is sent).
  const queuedNow = async (): Promise<string[]> =>
    (await env.getJson<{ items: BirdNumber[] }>(["birdnumbers"])).items
      .filter((r) => r.spec.claimRef?.namespace === fixture.namespace && r.status?.phase === "Purchasing")
      .map((r) => r.spec.claimRef?.name ?? "?");
  await waitFor(async () => ((await queuedNow()).length >= Math.ceil(resources / 2) ? true : undefined), 30_000, 200);

  leader.pause();
  const frozenAt = Date.now();
  // Thawed, it exits on its own once it sees its lease lost: by design, so not a crash in any scenario's report.
  const thaw = (): void => {
    leader.expectExit();
    leader.resume();
  };
  // Frozen, it cannot change anything: every resource with an intent has its buy waiting in the old leader.
  const queued = await queuedNow();
  report.figure("buysQueuedAtFreeze", queued.length);
  if (!report.check(queued.length > 0, "no buy was queued when the leader froze: the scenario tested nothing"))
    return thaw();
  const deleted = queued.slice(0, Math.ceil(queued.length / 2));
  report.figure("deletedWhileFrozen", deleted.length);
  await env.kubectl(["delete", "phonenumber", ...deleted, "-n", fixture.namespace, "--wait=false"]);
  sim.sim.setFaults({});

  const tookOverAt = await Promise.race([standby.leading, sleep(30_000).then(() => undefined)]);
  if (!report.check(tookOverAt !== undefined, "the standby never took over")) return thaw();
  report.figure("takeoverMs", (tookOverAt ?? frozenAt) - frozenAt);
  const settled = await waitAllReady(
    () => env.phoneNumbers(fixture.namespace),
    resources - deleted.length,
    env.short ? 60_000 : 120_000,
  );
  report.check(
    settled.ok,
    `the new leader did not settle before the old one thawed: ${settled.stragglers.slice(0, 6).join("; ")}`,
  );

  const thawedAt = Date.now();
  thaw();
  await Promise.race([leader.exited, sleep(20_000)]);
  report.check(
    !leader.running && leader.output().includes("Leadership lost; exiting"),
    "the old leader did not exit on its lost lease",
  );
  // A stale buy that left would still be answered by Bird: give it time to arrive before counting.
  await sleep(2000);
  countStaleBuys(report, sim.sim.calls().recent, thawedAt, new Set(items.map((i) => i.id)));
  report.figure("staleBuysStopped", leader.output().split(GUARD_REFUSAL).length - 1);
  auditNumbers(report, sim, await env.phoneNumbers(fixture.namespace));
  await standby.kill("SIGTERM");
  reportCrashes(report, env, firstProcess);
}

/** Distinct stock numbers, one per resource: whoever buys one, no other resource can. */
function pinnedNumbers(stock: NumberStockItem[], count: number, random: Random): NumberStockItem[] {
  const pool = [...stock];
  const picked: NumberStockItem[] = [];
  while (picked.length < count && pool.length > 0)
    picked.push(pool.splice(Math.floor(random() * pool.length), 1)[0] as NumberStockItem);
  return picked;
}

/** Buy calls that reached Bird after the old leader thawed carrying one of its queued items: each one a stale buy. */
function countStaleBuys(
  report: ScenarioReport,
  calls: { time: string; method: string; route: string; body?: unknown }[],
  thawedAt: number,
  pinned: Set<string>,
): void {
  const stale = calls.filter(
    (c) =>
      c.method === "POST" &&
      c.route === BUY_ROUTE &&
      Date.parse(c.time) >= thawedAt &&
      buyIds(c.body).some((id) => pinned.has(id)),
  );
  report.figure("buyCallsAfterThaw", stale.length);
  report.check(
    stale.length === 0,
    `${stale.length} buy call(s) reached Bird after the frozen leader thawed with its lease gone`,
  );
}

function buyIds(body: unknown): string[] {
  const ids = (body as { numberStockItemIds?: unknown } | undefined)?.numberStockItemIds;
  return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === "string") : [];
}

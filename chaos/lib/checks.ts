import type { AlphaSender, BirdNumber, Condition, PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { Reason } from "../../src/api/v1alpha1/conditions.js";
import { findCondition, isReady } from "../../src/runtime/status.js";
import type { RunningSimulator } from "../../src/simulator/index.js";
import type { ChaosEnv } from "./env.js";
import { sleep } from "./env.js";
import type { ScenarioReport } from "./report.js";

export { isReady };

const KNOWN_REASONS = new Set<string>(Object.values(Reason));

export function readyOf(object: { status?: { conditions?: Condition[] } }): Condition | undefined {
  return findCondition(object.status?.conditions, "Ready");
}

export function nameOf(object: { metadata?: { name?: string } }): string {
  return object.metadata?.name ?? "?";
}

/** The number a PhoneNumber reports holding (status is written by the operator only; its record is the proof). */
export function numberIdOf(pn: PhoneNumber): string | undefined {
  return pn.status?.numberId;
}

/**
 * A condition a user can act on: it judges the current generation, its reason is one the README documents, and it
 * has a message (a False one must say why).
 */
export function clearCondition(object: {
  metadata?: { generation?: number };
  status?: { conditions?: Condition[] };
}): string | undefined {
  const ready = readyOf(object);
  if (!ready) return "no Ready condition";
  if (ready.observedGeneration !== object.metadata?.generation)
    return `Ready judges generation ${ready.observedGeneration}, not ${object.metadata?.generation}`;
  if (!KNOWN_REASONS.has(ready.reason)) return `Ready reason "${ready.reason}" is not documented`;
  if (ready.status !== "True" && !ready.message?.trim())
    return `Ready=${ready.status} (${ready.reason}) has no message`;
  return undefined;
}

/** Waits until every object a `list` returns is Ready for its generation; the stragglers (name: reason) if not. */
export async function waitAllReady<T extends PhoneNumber | AlphaSender>(
  list: () => Promise<T[]>,
  expected: number,
  timeoutMs: number,
): Promise<{ ok: boolean; items: T[]; stragglers: string[]; ms: number }> {
  const started = Date.now();
  let items: T[] = [];
  for (;;) {
    try {
      items = await list();
    } catch {
      // kubectl can fail while the API server restarts; try again.
    }
    const stragglers = items
      .filter((i) => !isReady(i))
      .map((i) => `${nameOf(i)}: ${readyOf(i)?.reason ?? "no condition"} ${readyOf(i)?.message ?? ""}`.trim());
    const ok = items.length === expected && stragglers.length === 0;
    if (ok || Date.now() - started > timeoutMs) {
      if (items.length !== expected) stragglers.unshift(`${items.length} objects instead of ${expected}`);
      return { ok, items, stragglers, ms: Date.now() - started };
    }
    await sleep(1000);
  }
}

/**
 * The two promises about money, checked against Bird's own records: every PhoneNumber owns exactly one number and
 * no two share one; each was bought once (the purchase log has exactly one purchase per number a resource owns,
 * and none that no resource owns); and the workspace holds no number with a live subscription that no resource owns.
 * `preexisting` are numbers put into the workspace outside the operator (adopted, never bought).
 */
export function auditNumbers(
  report: ScenarioReport,
  sim: RunningSimulator,
  pns: PhoneNumber[],
  options: { preexisting?: Set<string>; released?: Set<string>; records?: BirdNumber[] } = {},
): void {
  const owners = new Map<string, string[]>();
  for (const pn of pns) {
    const id = numberIdOf(pn);
    if (!id) {
      report.violation(`PhoneNumber ${nameOf(pn)} owns no number`);
      continue;
    }
    owners.set(id, [...(owners.get(id) ?? []), nameOf(pn)]);
    if (options.records) {
      const record = options.records.find((r) => r.spec.claimRef?.uid === pn.metadata?.uid);
      if (!record) report.violation(`PhoneNumber ${nameOf(pn)} reports ${id} but no BirdNumber is bound to its uid`);
      else if (record.status?.phase !== "Bound" || record.status.numberId !== id)
        report.violation(
          `PhoneNumber ${nameOf(pn)} reports ${id} but its BirdNumber ${nameOf(record)} is ` +
            `${record.status?.phase} with ${record.status?.numberId}`,
        );
    }
  }
  for (const record of options.records ?? [])
    if (record.status?.phase === "Purchasing") report.violation(`BirdNumber ${nameOf(record)} is still Purchasing`);
  for (const [id, names] of owners)
    if (names.length > 1)
      report.violation(`number ${id} is owned by ${names.length} PhoneNumbers: ${names.join(", ")}`);

  const purchases = sim.sim.purchases();
  const bought = new Map<string, number>();
  for (const p of purchases) bought.set(p.numberId, (bought.get(p.numberId) ?? 0) + 1);
  for (const [id, count] of bought) {
    if (count > 1) report.violation(`number ${id} was bought ${count} times`);
    if (!owners.has(id) && !options.released?.has(id)) {
      const p = purchases.find((x) => x.numberId === id);
      report.violation(
        `purchase of ${p?.numberString ?? id} at ${p?.time ?? "?"} belongs to no PhoneNumber (bought twice or lost)`,
      );
    }
  }
  for (const [id, names] of owners) {
    if (!bought.has(id) && !options.preexisting?.has(id))
      report.violation(`${names.join(", ")} owns ${id}, which was never bought nor pre-existing`);
  }

  let unowned = 0;
  for (const workspace of sim.sim.snapshot(true).workspaces) {
    for (const number of workspace.numbers ?? []) {
      if (owners.has(number.id)) continue;
      if (mainSubscription(sim, number.endpointId) === "active") {
        unowned++;
        report.violation(
          `number ${number.numberString} (${number.id}) is in the workspace with an active subscription ` +
            "and no resource owns it",
        );
      }
    }
  }
  report.figure("purchases", purchases.length);
  report.figure("unownedNumbers", unowned);
}

/** Bird's status of a number's `main` subscription (a number's endpoint id is its number id). */
export function mainSubscription(sim: RunningSimulator, endpointId: string): string | undefined {
  return sim.sim.state.subscriptions(sim.sim.state.anyEndpoint(endpointId)).results.find((s) => s.name === "main")
    ?.status;
}

/** Numbers of the workspace whose `main` subscription is still active (still paid for). */
export function paidNumbers(sim: RunningSimulator): string[] {
  return sim.sim
    .snapshot(true)
    .workspaces.flatMap((w) => w.numbers ?? [])
    .filter((n) => mainSubscription(sim, n.endpointId) === "active")
    .map((n) => n.numberString);
}

/** The operator processes of a scenario that exited without being asked to. */
export function reportCrashes(
  report: ScenarioReport,
  env: ChaosEnv,
  fromIndex: number,
  expectedExit?: (output: string) => boolean,
): void {
  for (const p of env.processes.slice(fromIndex)) {
    if (!p.crashed) continue;
    if (expectedExit?.(p.output())) continue;
    report.violation(
      `operator ${p.name} (pid ${p.pid}) exited on its own with ${JSON.stringify(p.exit)}:\n${p.tail(15)}`,
    );
  }
}

/** Bird calls the simulator answered with an injected fault, by kind. */
export function faultCounts(sim: RunningSimulator): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const call of sim.sim.calls().recent) if (call.fault) counts[call.fault] = (counts[call.fault] ?? 0) + 1;
  return counts;
}

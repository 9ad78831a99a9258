import type { PhoneNumber } from "../../src/api/v1alpha1/index.js";
import {
  auditNumbers,
  isReady,
  mainSubscription,
  nameOf,
  numberIdOf,
  readyOf,
  reportCrashes,
  waitAllReady,
} from "../lib/checks.js";
import { sleep, type ChaosEnv } from "../lib/env.js";
import type { ScenarioReport } from "../lib/report.js";
import { phoneNumberSpec, sample, type Random } from "../lib/specs.js";

/**
 * Issue #9 scenario 3: the API server restarts (etcd keeps its data) in the middle of a run. The operator is frozen
 * (SIGSTOP) from just before the API server comes back until the changes are made, so every change lands while it
 * has no working watch: creations, spec changes and deletions made then must all be acted on once it reconnects.
 */
export async function apiServerRestart(env: ChaosEnv, report: ScenarioReport, random: Random): Promise<void> {
  const initial = env.short ? 10 : 40;
  const restarts = env.short ? 1 : 3;
  const sim = await env.simulator({ provisioningDelayMs: 300 });
  const fixture = await env.fixture(sim.url, sim.sim.identity.accessKey);
  const firstProcess = env.processes.length;
  // Leader election as deployed, with a renew deadline longer than the outage: the process must live through it
  // (a shorter one makes it exit by design, and a fresh process would prove nothing about watches recovering).
  const operator = env.operator(fixture, {
    leaderElection: { leaseName: "bird-operator", leaseDuration: "90s", renewDeadline: "60s", retryPeriod: "2s" },
  });
  await operator.leading;
  let serial = 0;
  const create = (count: number): Record<string, unknown>[] =>
    Array.from({ length: count }, () => env.phoneNumber(fixture, `restart-${serial++}`, phoneNumberSpec(random)));
  await env.apply(...create(initial));

  const deleted = new Map<string, string | undefined>();
  const changed = new Map<string, string>();
  const history = new Map<string, string[]>();
  let created = initial;
  let outageMs = 0;
  for (let round = 0; round < restarts; round++) {
    // Mid-run: some numbers are still being bought when the API server goes away.
    await sleep(1500);
    const down = Date.now();
    // A crash (SIGKILL) and, in the full run, graceful stops too.
    const crash = env.short || round % 2 === 0;
    await env.plane.stopApiServer({ crash });
    report.note(`API server ${crash ? "killed" : "stopped"} in ${Date.now() - down} ms`);
    await sleep(2000);
    operator.pause();
    await env.plane.startApiServer();
    outageMs += Date.now() - down;
    report.note(`API server back after ${Date.now() - down} ms`);
    const current = await env.phoneNumbers(fixture.namespace);
    const [toDelete, ...toChange] = sample(
      random,
      current.filter((pn) => !pn.metadata?.deletionTimestamp && !deleted.has(nameOf(pn))),
      4,
    );
    // Made while the operator has no working watch.
    const fresh = create(env.short ? 4 : 10);
    created += fresh.length;
    await env.apply(...fresh);
    for (const pn of toChange) {
      const countries = sample(random, ["GB", "NL", "DE", "BE", "FR"], 2).sort();
      await env.kubectl([
        "patch",
        "pn",
        nameOf(pn),
        "-n",
        fixture.namespace,
        "--type=merge",
        "-p",
        JSON.stringify({
          spec: {
            capabilities: pn.spec.capabilities,
            destinations: [{ capability: "voice", countryCodes: countries }],
          },
        }),
      ]);
      changed.set(nameOf(pn), countries.join(","));
      history.set(nameOf(pn), [...(history.get(nameOf(pn)) ?? []), `round ${round}: ${countries.join(",")}`]);
    }
    if (toDelete) {
      await env.kubectl(["delete", "pn", nameOf(toDelete), "-n", fixture.namespace, "--wait=false"]);
      deleted.set(nameOf(toDelete), numberIdOf(toDelete));
      changed.delete(nameOf(toDelete));
    }
    operator.resume();
  }
  report.figure("apiServerRestarts", restarts);
  report.figure("outageMs", outageMs);
  report.figure("changesWhileBlind", `created:${created - initial},changed:${changed.size},deleted:${deleted.size}`);

  const expected = created - deleted.size;
  const settled = await waitAllReady(() => env.phoneNumbers(fixture.namespace), expected, env.short ? 60_000 : 180_000);
  report.figure("convergenceAfterRestartMs", settled.ms);
  report.check(settled.ok, `changes missed after the API server restart: ${settled.stragglers.slice(0, 8).join("; ")}`);
  const items = settled.items;
  for (const [name, countries] of changed) {
    const pn = items.find((i) => nameOf(i) === name);
    const active = (pn?.status?.destinations ?? [])
      .filter((d) => d.capability === "voice" && d.status === "active")
      .map((d) => d.countryCode)
      .sort()
      .join(",");
    report.check(
      active === countries,
      `spec change of ${name} missed: voice destinations ${active || "none"} active, ${countries} wanted ` +
        `(changes ${history.get(name)?.join(" then ")}; generation ${pn?.metadata?.generation}, ` +
        `spec ${JSON.stringify(pn?.spec.destinations)}, status ${JSON.stringify(pn?.status?.destinations)}, ` +
        `Ready ${JSON.stringify(readyOf(pn ?? {}))})`,
    );
  }
  const released = new Set<string>();
  for (const [name, id] of deleted) {
    report.check(!items.some((i) => nameOf(i) === name), `deletion of ${name} missed: it still exists`);
    if (id) released.add(id);
    report.check(
      !id || mainSubscription(sim, id) !== "active",
      `deletion of ${name} missed: its number's subscription is still active`,
    );
  }
  auditNumbers(report, sim, items, { released });
  report.check(
    items.every((i: PhoneNumber) => isReady(i) || readyOf(i)?.status !== "True"),
    "a Ready condition judges an old generation",
  );
  report.check(operator.running, "the operator exited across the API server restart");
  await operator.kill("SIGTERM");
  reportCrashes(report, env, firstProcess);
}

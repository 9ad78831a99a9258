import { auditNumbers, reportCrashes, waitAllReady } from "../lib/checks.js";
import { sleep, type ChaosEnv } from "../lib/env.js";
import { waitForOutput } from "../../test/support/operator-process.js";
import type { ScenarioReport } from "../lib/report.js";
import { phoneNumberSpec, type Random } from "../lib/specs.js";

const LEASE = { leaseName: "bird-operator", leaseDuration: "4s", renewDeadline: "3s", retryPeriod: "1s" };
const LEASE_MS = 4000;
const RETRY_MS = 1000;
/** Timers and pipes run late on a busy two-core machine. */
const SCHEDULING_SLACK_MS = 500;
/**
 * As in client-go, a candidate judges expiry from when it saw the last renewal on its own clock (immune to clock
 * skew), and polls every 1 to 2.2 retry periods: it sees the last renewal up to one poll late and the expiry up to
 * one poll late. So takeover comes at most this long after the dead leader's last renewal.
 */
const TAKEOVER_BOUND_MS = LEASE_MS + 2 * RETRY_MS * 2.2 + SCHEDULING_SLACK_MS;

/**
 * Issue #9 scenario 4: two replicas with leader election; the leader is SIGKILLed while numbers are being bought.
 * The standby takes over once the lease expires, and nothing is bought twice. Each killed replica comes back as
 * the new standby, as a Deployment's pod would.
 */
export async function leaderFailover(env: ChaosEnv, report: ScenarioReport, random: Random): Promise<void> {
  const resources = env.short ? 16 : 60;
  const failovers = env.short ? 2 : 6;
  const sim = await env.simulator({ provisioningDelayMs: 200, faults: { latencyMs: 30, jitterMs: 60 } });
  const fixture = await env.fixture(sim.url, sim.sim.identity.accessKey);
  const firstProcess = env.processes.length;
  let leader = env.operator(fixture, { leaderElection: LEASE });
  await leader.leading;
  let standby = env.operator(fixture, { leaderElection: LEASE });
  await waitForOutput(standby, "Caches synced", 30_000);

  const docs = Array.from({ length: resources }, (_, i) =>
    env.phoneNumber(fixture, `ha-${i}`, phoneNumberSpec(random)),
  );
  const perWave = Math.ceil(resources / failovers);
  const takeovers: number[] = [];
  const afterRenewal: number[] = [];
  for (let round = 0; round < failovers; round++) {
    await env.apply(...docs.splice(0, perWave));
    // Mid-run: once the leader is buying this wave.
    const before = sim.sim.state.purchases().length;
    const deadline = Date.now() + 5000;
    while (sim.sim.state.purchases().length < before + Math.ceil(perWave / 3) && Date.now() < deadline) await sleep(20);
    const killedAt = Date.now();
    await leader.kill("SIGKILL");
    const lastRenewal = await lastRenewalOf(env, fixture.namespace);
    const tookOverAt = await Promise.race([standby.leading, sleep(30_000).then(() => undefined)]);
    if (tookOverAt === undefined) {
      report.violation(`round ${round}: the standby never took over`);
      break;
    }
    const takeover = tookOverAt - killedAt;
    takeovers.push(takeover);
    if (lastRenewal !== undefined) afterRenewal.push(tookOverAt - lastRenewal);
    report.check(takeover > 0, `round ${round}: the standby led before the leader died`);
    report.check(
      tookOverAt - (lastRenewal ?? killedAt) <= TAKEOVER_BOUND_MS,
      `round ${round}: takeover ${tookOverAt - (lastRenewal ?? killedAt)} ms after the last renewal, ` +
        `more than the lease duration (${LEASE_MS} ms) plus two candidate polls`,
    );
    leader = standby;
    standby = env.operator(fixture, { leaderElection: LEASE });
    await waitForOutput(standby, "Caches synced", 30_000);
  }
  report.figure("resources", resources);
  report.figure("leaderKills", takeovers.length);
  report.figure("leaseDurationMs", LEASE_MS);
  report.figure("takeoverMs.max", Math.max(0, ...takeovers));
  report.figure("takeoverMs.mean", Math.round(takeovers.reduce((a, b) => a + b, 0) / Math.max(1, takeovers.length)));
  report.figure("takeoverAfterLastRenewalMs.max", Math.max(0, ...afterRenewal));
  if (docs.length) await env.apply(...docs);

  const settled = await waitAllReady(
    () => env.phoneNumbers(fixture.namespace),
    resources,
    env.short ? 60_000 : 180_000,
  );
  report.check(
    settled.ok,
    `not every PhoneNumber is Ready after the failovers: ${settled.stragglers.slice(0, 8).join("; ")}`,
  );
  report.check(
    !standby.output().includes("Starting controllers"),
    "the standby started its controllers while the leader was alive",
  );
  auditNumbers(report, sim, settled.items);
  await standby.kill("SIGTERM");
  await leader.kill("SIGTERM");
  reportCrashes(report, env, firstProcess);
}

/** When the (dead) leader last renewed the Lease, by the API server's record. */
async function lastRenewalOf(env: ChaosEnv, namespace: string): Promise<number | undefined> {
  const lease = await env
    .getJson<{ spec?: { renewTime?: string } }>(["lease", LEASE.leaseName, "-n", namespace])
    .catch(() => undefined);
  const at = lease?.spec?.renewTime ? Date.parse(lease.spec.renewTime) : NaN;
  return Number.isNaN(at) ? undefined : at;
}

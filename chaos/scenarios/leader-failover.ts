import { FINALIZER } from "../../src/api/v1alpha1/conditions.js";
import { auditNumbers, nameOf, reportCrashes, waitAllReady } from "../lib/checks.js";
import { API_VERSION, sleep, waitFor, type ChaosEnv } from "../lib/env.js";
import { KubeHttp } from "../../src/runtime/kube-http.js";
import { waitForOutput } from "../../test/support/operator-process.js";
import type { ScenarioReport } from "../lib/report.js";
import { phoneNumberSpec, pick, type Random } from "../lib/specs.js";

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
 * the new standby, as a Deployment's pod would. Meanwhile the namespace's tenant keeps taking the operator's finalizer
 * off its objects (any editor of the namespace can): a new leader must still find what each object holds.
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
  const applied: string[] = [];
  const tenant = finalizerStripper(env, fixture.namespace, applied, random);
  const perWave = Math.ceil(resources / failovers);
  const takeovers: number[] = [];
  const afterRenewal: number[] = [];
  for (let round = 0; round < failovers; round++) {
    const wave = docs.splice(0, perWave);
    await env.apply(...wave);
    applied.push(...wave.map((doc) => String((doc.metadata as { name: string }).name)));
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
  report.figure("finalizersStrippedByTenant", await tenant.stop());

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
  // The finalizers the tenant took off are back (the last ones a moment after it stopped).
  let unguarded: string[] = [];
  await waitFor(async () => {
    const pns = await env.phoneNumbers(fixture.namespace);
    unguarded = pns.filter((pn) => !pn.metadata?.finalizers?.includes(FINALIZER)).map(nameOf);
    return unguarded.length ? undefined : true;
  }, 30_000);
  report.check(unguarded.length === 0, `still without the operator's finalizer: ${unguarded.slice(0, 8).join(", ")}`);
  await standby.kill("SIGTERM");
  await leader.kill("SIGTERM");
  reportCrashes(report, env, firstProcess);
}

/**
 * A tenant removing the finalizers of its own PhoneNumbers, one every 200 ms, picked at random among those applied so
 * far; `stop` ends it and says how many it removed.
 */
function finalizerStripper(
  env: ChaosEnv,
  namespace: string,
  names: readonly string[],
  random: Random,
): { stop: () => Promise<number> } {
  let stopped = false;
  let stripped = 0;
  // Its own client, not kubectl: a process every 200 ms would slow the takeovers this scenario times.
  const http = new KubeHttp(env.plane.kubeConfig());
  const loop = (async () => {
    while (!stopped) {
      await sleep(200);
      if (!names.length) continue;
      await http
        .request({
          method: "PATCH",
          path: `/apis/${API_VERSION}/namespaces/${namespace}/phonenumbers/${pick(random, names)}`,
          body: [{ op: "remove", path: "/metadata/finalizers" }],
          contentType: "application/json-patch+json",
        })
        .then(() => stripped++)
        .catch(() => undefined); // none to remove, or the API server busy: the next one
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      http.close();
      return stripped;
    },
  };
}

/** When the (dead) leader last renewed the Lease, by the API server's record. */
async function lastRenewalOf(env: ChaosEnv, namespace: string): Promise<number | undefined> {
  const lease = await env
    .getJson<{ spec?: { renewTime?: string } }>(["lease", LEASE.leaseName, "-n", namespace])
    .catch(() => undefined);
  const at = lease?.spec?.renewTime ? Date.parse(lease.spec.renewTime) : NaN;
  return Number.isNaN(at) ? undefined : at;
}

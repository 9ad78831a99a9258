import type { RunningSimulator } from "../../src/simulator/index.js";
import type { TestCluster } from "./cluster.js";
import { eventually, getJson } from "../support/fixtures.js";
import type { TestOperator } from "./operator.js";

/** Everything a reconcile could have written, counted: what "writes nothing" is checked against. */
interface Writes {
  /** Every Kubernetes write the operator's clients made: status, metadata, finalizers, records, of any kind. */
  kubernetes: string;
  /** Events in the namespace, each counted as often as it was recorded (count, or series.count). */
  events: number;
  /** resourceVersion of each object watched: any write to it, by anyone, changes it. */
  versions: string[];
  /** Every write to Bird (POST), validations included. */
  bird: number;
}

interface EventList {
  items: { count?: number; series?: { count?: number } }[];
}

/**
 * Waits until the objects have settled (the workspace's status follows its users' records a moment later), then until
 * the controller has reconciled at least twice more (its reconcile counter, not a sleep), and returns what was written
 * meanwhile; `objects` are `kind/name` in `namespace` (and cluster-scoped ones as `kind/name`).
 */
export async function writesDuringReconciles(
  ctx: { cluster: TestCluster; operator: TestOperator; sim: RunningSimulator; namespace: string },
  controller: string,
  objects: { namespaced: string[]; clusterScoped?: string[] },
): Promise<{ before: Writes; after: Writes; reconciles: number }> {
  const reconciles = (): Promise<number> => reconcileCount(ctx.operator, controller);
  const snapshot = async (): Promise<Writes> => {
    const kube = (await ctx.operator.metrics.kubeWrites.get()).values
      .map((v) => `${v.labels.kind} ${v.labels.verb}: ${v.value}`)
      .sort()
      .join(", ");
    const events = (await getJson<EventList>(ctx.cluster, ["events", "-n", ctx.namespace])).items.reduce(
      (n, e) => n + (e.series?.count ?? e.count ?? 1),
      0,
    );
    const versions: string[] = [];
    for (const name of objects.namespaced)
      versions.push(await resourceVersion(ctx.cluster, [name, "-n", ctx.namespace]));
    for (const name of objects.clusterScoped ?? []) versions.push(await resourceVersion(ctx.cluster, [name]));
    const bird = ctx.sim.sim
      .calls()
      .counts.filter((c) => c.method === "POST")
      .reduce((n, c) => n + c.count, 0);
    return { kubernetes: kube, events, versions, bird };
  };
  await settled(ctx, objects);
  const start = await reconciles();
  const before = await snapshot();
  const done = await eventually(
    `two more ${controller} reconciles`,
    async () => ((await reconciles()) >= start + 2 ? reconciles() : undefined),
    60_000,
  );
  return { before, after: await snapshot(), reconciles: done - start };
}

async function resourceVersion(cluster: TestCluster, args: string[]): Promise<string> {
  return (await getJson<{ metadata: { resourceVersion: string } }>(cluster, args)).metadata.resourceVersion;
}

/** Until no object's resourceVersion changed for 3 s (a workspace's status is written at most 2 s after a change). */
async function settled(
  ctx: { cluster: TestCluster; namespace: string },
  objects: { namespaced: string[]; clusterScoped?: string[] },
): Promise<void> {
  const versions = async (): Promise<string> => {
    const all = [
      ...objects.namespaced.map((o) => [o, "-n", ctx.namespace]),
      ...(objects.clusterScoped ?? []).map((o) => [o]),
    ];
    return (await Promise.all(all.map((args) => resourceVersion(ctx.cluster, args)))).join(",");
  };
  let last = await versions();
  let since = Date.now();
  await eventually(
    "objects settled",
    async () => {
      const now = await versions();
      if (now !== last) [last, since] = [now, Date.now()];
      return Date.now() - since >= 3000 ? true : undefined;
    },
    60_000,
  );
}

/** How many reconciles the controller (`phonenumber`, `alphasender`, ...) has finished, whatever their result. */
export async function reconcileCount(operator: TestOperator, controller: string): Promise<number> {
  return (await operator.metrics.reconcileTotal.get()).values
    .filter((v) => v.labels.controller === controller)
    .reduce((n, v) => n + v.value, 0);
}

/** Waits until the controller has finished `count` more reconciles: a resync came and went, counted, not slept. */
export async function moreReconciles(
  operator: TestOperator,
  controller: string,
  count = 2,
  timeoutMs = 60_000,
): Promise<void> {
  const start = await reconcileCount(operator, controller);
  await eventually(
    `${count} more ${controller} reconciles`,
    async () => ((await reconcileCount(operator, controller)) >= start + count ? true : undefined),
    timeoutMs,
  );
}

import type { AlphaSender, BirdWorkspace, PhoneNumber } from "../api/v1alpha1/index.js";
import { ALPHA_SENDER_KIND, GROUP, PHONE_NUMBER_KIND } from "../api/v1alpha1/index.js";
import { Reason } from "../api/v1alpha1/conditions.js";
import { spendViolation, sumMoney } from "../controllers/guardrails.js";
import { workspaceUsable } from "../workspace/connections.js";
import type { Usage } from "../ownership/usage.js";
import { errorMessage } from "../runtime/errors.js";
import { planAlphaSender } from "./alpha-sender.js";
import type { ClusterReader, ClusterState, DryRun, ManagedKind, NamespaceInfo } from "./cluster.js";
import { claimantOf, problem, type Change, type PlanContext } from "./context.js";
import type { Manifest } from "./input.js";
import { planPhoneNumber } from "./phone-number.js";
import { PLAN_API_VERSION, type Plan, type ResourcePlan, type Violation, type WorkspacePlan } from "./types.js";
import { birdView, WorkspaceState } from "./workspace-state.js";

export interface PlannerOptions {
  reader: ClusterReader;
  /** The operator's namespace: it may always use a workspace (namespaceAllowed). */
  operatorNamespace: string;
  /** For objects of the input that name no namespace. */
  defaultNamespace: string;
  /**
   * Objects of the input's namespaces missing from the input are deleted, as `kubectl apply --prune` and Argo CD do.
   */
  prune: boolean;
  /** With prune: only objects matching this label selector are pruned. */
  selector?: string;
  /** The AccessKey to ask Bird with about a workspace; throws saying why there is none. */
  accessKey: (workspace: BirdWorkspace) => Promise<string>;
  birdTimeoutMs: number;
  resyncMs: number;
  fetch?: typeof fetch;
  now?: () => Date;
}

type Managed = PhoneNumber | AlphaSender;
type Pending = Change<Managed> & { kind: ManagedKind };

/**
 * Makes the plan: the input compared with the cluster (server-side dry runs for what the API server would refuse), and
 * for each PhoneNumber and AlphaSender what the operator would then do in Bird, decided by the operator's own checks
 * against the workspace's records, Bird's stock and Bird's validate-only answers. Reads only; see read-only.ts.
 */
export async function makePlan(manifests: readonly Manifest[], options: PlannerOptions): Promise<Plan> {
  const cluster = await options.reader.snapshot();
  const errors: string[] = [];
  const warnings: string[] = [];
  const input = splitInput(manifests, options.defaultNamespace, errors);
  const workspaces = workspaceStates(cluster, input.workspaces);
  const namespaces = mergedNamespaces(cluster, input.namespaces);
  const changes = await changesOf(input, cluster, options, warnings);
  const used = new Set(changes.map((c) => workspaceOf(c.desired ?? c.live)));
  const before = await connect(
    [...workspaces.values()].filter((w) => used.has(w.name)),
    options,
    errors,
  );
  const context: PlanContext = {
    operatorNamespace: options.operatorNamespace,
    resyncMs: options.resyncMs,
    workspaces,
    namespaces,
    alphaSenders: alphaSenders(cluster, changes),
  };
  const ordered = deletionsLast(changes);
  for (const change of ordered) await planOne(context, change, errors);
  const workspacePlans = [...before].map(([workspace, usage]) => workspacePlan(workspace, usage));
  const resources = ordered.map((c) => c.plan);
  const violations = [...resourceViolations(resources), ...workspacePlans.flatMap((w) => workspaceViolations(w))];
  return {
    apiVersion: PLAN_API_VERSION,
    kind: "Plan",
    generatedAt: (options.now?.() ?? new Date()).toISOString(),
    server: cluster.server,
    prune: options.prune,
    summary: summarize(resources, violations),
    resources,
    workspaces: workspacePlans,
    violations,
    warnings,
    errors,
  };
}

/** The cluster's namespaces with the input's on top (their labels decide admission). */
function mergedNamespaces(cluster: ClusterState, inputNamespaces: Manifest[]): Map<string, NamespaceInfo> {
  const namespaces = new Map<string, NamespaceInfo>(cluster.namespaces);
  for (const ns of inputNamespaces)
    namespaces.set(ns.metadata?.name ?? "", {
      metadata: { ...namespaces.get(ns.metadata?.name ?? "")?.metadata, ...ns.metadata },
    });
  return namespaces;
}

/** The input paired with the cluster, plus what prune deletes; each deletion dry-run against the API server. */
async function changesOf(
  input: Input,
  cluster: ClusterState,
  options: PlannerOptions,
  warnings: string[],
): Promise<Pending[]> {
  const changes = [
    ...(await pair(input.managed, cluster, options, input.namespaces, warnings)),
    ...(await pruned(input.managed, cluster, options)),
  ];
  for (const change of changes)
    if (change.plan.operation === "delete") await dryRunDelete(change, options.reader, warnings);
  return changes;
}

/**
 * Deletions last: the operator does not order a deletion's cancellation before another resource's purchase, so
 * purchases are checked against the spend as it is before this change's cancellations.
 */
function deletionsLast(changes: Pending[]): Pending[] {
  return [
    ...changes.filter((c) => c.plan.operation !== "delete"),
    ...changes.filter((c) => c.plan.operation === "delete"),
  ];
}

/**
 * 0 no changes, 2 changes, 1 an error or (with failOnViolation) a violation: terraform plan -detailed-exitcode's codes.
 */
export function exitCode(plan: Plan, failOnViolation: boolean): 0 | 1 | 2 {
  if (plan.errors.length || (failOnViolation && plan.violations.length)) return 1;
  return plan.summary.changes > 0 ? 2 : 0;
}

interface Input {
  managed: { kind: ManagedKind; manifest: Manifest; namespace: string; name: string }[];
  workspaces: Manifest[];
  namespaces: Manifest[];
}

/**
 * PhoneNumbers and AlphaSenders are planned; BirdWorkspaces
 * and Namespaces give policy and labels; the rest is not ours.
 */
function splitInput(manifests: readonly Manifest[], defaultNamespace: string, errors: string[]): Input {
  const input: Input = { managed: [], workspaces: [], namespaces: [] };
  const seen = new Set<string>();
  for (const manifest of manifests) {
    const ours = manifest.apiVersion?.startsWith(`${GROUP}/`) ?? false;
    if (manifest.kind === "Namespace" && manifest.apiVersion === "v1") input.namespaces.push(manifest);
    else if (ours && manifest.kind === "BirdWorkspace") input.workspaces.push(manifest);
    else if (ours && (manifest.kind === PHONE_NUMBER_KIND || manifest.kind === ALPHA_SENDER_KIND)) {
      const name = manifest.metadata?.name;
      const namespace = manifest.metadata?.namespace ?? defaultNamespace;
      const key = `${manifest.kind}/${namespace}/${name}`;
      if (!name) errors.push(`${manifest.source}: a ${manifest.kind} without metadata.name`);
      else if (seen.has(key))
        errors.push(`${manifest.source}: ${manifest.kind} ${namespace}/${name} appears twice in the input`);
      else input.managed.push({ kind: manifest.kind, manifest, namespace, name });
      seen.add(key);
    }
  }
  return input;
}

/**
 * Every workspace. Where the input changes one, the plan judges the input's policy (limits, namespaces, default
 * deletion policy) but asks Bird as the live workspace does (endpoint, ids, key), since that is what the operator uses
 * until the change is applied.
 */
function workspaceStates(cluster: ClusterState, inputWorkspaces: readonly Manifest[]): Map<string, WorkspaceState> {
  const all = new Map<string, BirdWorkspace>(cluster.workspaces.map((w) => [w.metadata?.name ?? "", w]));
  for (const manifest of inputWorkspaces) {
    const name = manifest.metadata?.name ?? "";
    const live = all.get(name);
    // Input is untyped until the API server has seen it: a malformed spec fails where it is used, naming the resource.
    const spec = manifest.spec as unknown as BirdWorkspace["spec"];
    const { policy, allowedNamespaces, defaultDeletionPolicy } = spec;
    all.set(
      name,
      live
        ? { ...live, spec: { ...live.spec, policy, allowedNamespaces, defaultDeletionPolicy } }
        : ({ metadata: { name }, spec } as BirdWorkspace),
    );
  }
  const list = [...all.values()];
  return new Map(
    list.map((workspace) => {
      const name = workspace.metadata?.name ?? "";
      const numbers = cluster.birdNumbers.filter((r) => r.spec.workspaceRef.name === name);
      const senders = cluster.birdSenders.filter((r) => r.spec.workspaceRef.name === name);
      return [name, new WorkspaceState(workspace, workspaceUsable(workspace, list), numbers, senders)];
    }),
  );
}

function emptyPlan(
  kind: ManagedKind,
  namespace: string,
  name: string,
  workspace: string,
  operation: ResourcePlan["operation"],
): ResourcePlan {
  return {
    kind,
    namespace,
    name,
    workspace,
    operation,
    changedFields: [],
    apiServer: { dryRun: "skipped" },
    actions: [],
    problems: [],
    notes: [],
  };
}

/** The input's objects next to the cluster's, each checked by the API server's server-side dry run. */
async function pair(
  managed: Input["managed"],
  cluster: ClusterState,
  options: PlannerOptions,
  newNamespaces: readonly Manifest[],
  warnings: string[],
): Promise<Pending[]> {
  const changes: Pending[] = [];
  for (const { kind, manifest, namespace, name } of managed) {
    const live = liveObjects(cluster, kind).find(
      (o) => o.metadata?.namespace === namespace && o.metadata?.name === name,
    );
    const object = {
      apiVersion: manifest.apiVersion,
      kind,
      metadata: { ...manifest.metadata, namespace, name },
      spec: manifest.spec,
    } as unknown as Managed;
    const workspace = workspaceOf(object);
    const plan = emptyPlan(kind, namespace, name, workspace, live ? "update" : "create");
    const change: Pending = { kind, live, plan };
    if (live) await dryRunUpdate(change, object, options.reader, warnings);
    else await dryRunCreate(change, object, options.reader, newNamespaces, warnings);
    if (live?.metadata?.deletionTimestamp)
      plan.notes.push("the object is being deleted: the operator is releasing it, not applying this spec");
    changes.push(change);
  }
  return changes;
}

async function dryRunCreate(
  change: Pending,
  object: Managed,
  reader: ClusterReader,
  newNamespaces: readonly Manifest[],
  warnings: string[],
): Promise<void> {
  const { plan } = change;
  const answer = await reader.dryRunCreate(change.kind, object);
  const fallback = { ...object, metadata: { ...object.metadata, generation: 1 } } as Managed;
  if (answer.ok) {
    plan.apiServer = { dryRun: "accepted" };
    change.desired = answer.object;
  } else if (answer.status === 404 && newNamespaces.some((ns) => ns.metadata?.name === plan.namespace)) {
    plan.apiServer = {
      dryRun: "skipped",
      message: `namespace ${plan.namespace} is created by this change, so the API server cannot check the object yet`,
    };
    change.desired = fallback;
  } else if (!skipped(answer, plan, warnings)) {
    refuse(plan, answer, "Invalid");
    return;
  } else change.desired = fallback;
  // A new object has no uid yet: within the plan it is known by the one claimantOf gives it.
  change.desired.metadata = { ...change.desired.metadata, uid: claimantOf(change.desired).metadata?.uid };
}

async function dryRunUpdate(
  change: Pending,
  object: Managed,
  reader: ClusterReader,
  warnings: string[],
): Promise<void> {
  const { plan } = change;
  const live = change.live as Managed;
  const answer = await reader.dryRunSpec<Managed>(change.kind, plan.namespace, plan.name, live.spec, object.spec);
  if (answer.ok) {
    plan.apiServer = { dryRun: "accepted" };
    change.desired = answer.object;
  } else if (skipped(answer, plan, warnings)) {
    // Without the API server neither its defaults nor removed fields are known: the input's fields win, the rest stays.
    const spec = { ...live.spec, ...object.spec };
    const changed = canonical(live.spec) !== canonical(spec);
    change.desired = {
      ...live,
      spec,
      metadata: { ...live.metadata, generation: (live.metadata?.generation ?? 0) + (changed ? 1 : 0) },
    };
  } else {
    refuse(plan, answer, "Invalid");
    plan.changedFields = changedFields(live.spec, { ...live.spec, ...object.spec });
    return;
  }
  plan.changedFields = changedFields(live.spec, change.desired.spec);
  if (!plan.changedFields.length) plan.operation = "none";
}

async function dryRunDelete(change: Pending, reader: ClusterReader, warnings: string[]): Promise<void> {
  const answer = await reader.dryRunDelete(change.kind, change.plan.namespace, change.plan.name);
  if (answer.ok) change.plan.apiServer = { dryRun: "accepted" };
  else if (!skipped(answer, change.plan, warnings)) refuse(change.plan, answer, "DeletionRefused");
}

/** A dry run the caller may not make (403 from RBAC) is skipped with a warning; the plan goes on without it. */
function skipped(answer: DryRun<unknown>, plan: ResourcePlan, warnings: string[]): boolean {
  if (answer.ok || answer.status !== 403 || !/cannot (create|patch|delete) resource/.test(answer.message)) return false;
  plan.apiServer = { dryRun: "skipped", message: answer.message };
  const hint =
    "the API server's dry run needs create, patch and delete on phonenumbers and alphasenders " +
    "(deploy/rbac/planner.yaml grants them, dry runs only, to the bird-operator-planner ServiceAccount)";
  if (!warnings.includes(hint)) warnings.push(hint);
  return true;
}

function refuse(plan: ResourcePlan, answer: DryRun<unknown>, reason: string): void {
  const message = answer.ok ? "" : answer.message;
  plan.apiServer = { dryRun: "refused", message };
  plan.problems.push(
    problem(reason, `the API server refuses this ${plan.operation === "delete" ? "deletion" : "change"}: ${message}`),
  );
}

/** With --prune: the cluster's objects of the input's namespaces (and selector) that the input no longer has. */
async function pruned(managed: Input["managed"], cluster: ClusterState, options: PlannerOptions): Promise<Pending[]> {
  if (!options.prune) return [];
  const namespaces = new Set(managed.map((m) => m.namespace));
  if (namespaces.size === 0) namespaces.add(options.defaultNamespace);
  const wanted = new Set(managed.map((m) => `${m.kind}/${m.namespace}/${m.name}`));
  const changes: Pending[] = [];
  for (const kind of [PHONE_NUMBER_KIND, ALPHA_SENDER_KIND] as const) {
    for (const namespace of namespaces) {
      const selected = options.selector ? await options.reader.names(kind, namespace, options.selector) : undefined;
      for (const live of liveObjects(cluster, kind)) {
        const name = live.metadata?.name ?? "";
        if (
          live.metadata?.namespace !== namespace ||
          wanted.has(`${kind}/${namespace}/${name}`) ||
          (selected && !selected.has(name))
        )
          continue;
        changes.push({ kind, live, plan: emptyPlan(kind, namespace, name, live.spec.workspaceRef.name, "delete") });
      }
    }
  }
  return changes;
}

function workspaceOf(object: Managed | undefined): string {
  return (object?.spec as { workspaceRef?: { name?: string } } | undefined)?.workspaceRef?.name ?? "";
}

function liveObjects(cluster: ClusterState, kind: ManagedKind): Managed[] {
  return kind === PHONE_NUMBER_KIND ? cluster.phoneNumbers : cluster.alphaSenders;
}

/** Connects to Bird for every workspace the plan touches and records what each pays for before the change. */
async function connect(
  workspaces: WorkspaceState[],
  options: PlannerOptions,
  errors: string[],
): Promise<Map<WorkspaceState, Usage>> {
  const before = new Map<WorkspaceState, Usage>();
  for (const workspace of workspaces) {
    try {
      workspace.bird = birdView(workspace.workspace, await options.accessKey(workspace.workspace), {
        timeoutMs: options.birdTimeoutMs,
        fetch: options.fetch,
      });
      await workspace.bird.inventory.refresh();
    } catch (error) {
      workspace.bird = undefined;
      workspace.birdError = errorMessage(error);
      errors.push(
        `BirdWorkspace ${workspace.name}: cannot ask Bird (${workspace.birdError}), ` +
          "so its resources are planned without Bird",
      );
    }
    before.set(workspace, workspace.usage());
  }
  return before;
}

function alphaSenders(cluster: ClusterState, changes: readonly Pending[]): AlphaSender[] {
  const deleted = new Set(changes.filter((c) => c.plan.operation === "delete").map((c) => c.live?.metadata?.uid));
  const desired = changes.filter((c) => c.kind === ALPHA_SENDER_KIND && c.desired).map((c) => c.desired as AlphaSender);
  const replaced = new Set(desired.map((o) => o.metadata?.uid));
  return [
    ...cluster.alphaSenders.filter((o) => !deleted.has(o.metadata?.uid) && !replaced.has(o.metadata?.uid)),
    ...desired,
  ];
}

async function planOne(context: PlanContext, change: Pending, errors: string[]): Promise<void> {
  const { plan } = change;
  if (plan.apiServer.dryRun === "refused") return;
  const workspace = context.workspaces.get(plan.workspace);
  if (workspace?.birdError) plan.notes.push(`not planned against Bird: ${workspace.birdError}`);
  try {
    if (change.kind === PHONE_NUMBER_KIND) await planPhoneNumber(context, change as Change<PhoneNumber>);
    else await planAlphaSender(context, change as Change<AlphaSender>);
  } catch (error) {
    errors.push(`${plan.kind} ${plan.namespace}/${plan.name}: ${errorMessage(error)}`);
  }
}

function workspacePlan(state: WorkspaceState, before: Usage): WorkspacePlan {
  const { spec } = state.workspace;
  const after = state.usage();
  const max = spec.policy?.maxMonthlySpend;
  const currency = max?.currencyCode ?? [...before.prices, ...after.prices][0]?.currencyCode ?? "EUR";
  const spendBefore = sumMoney(before.prices, currency);
  const spendAfter = sumMoney(after.prices, currency);
  const plan: WorkspacePlan = {
    name: state.name,
    numbers: {
      before: before.numbers,
      after: after.numbers,
      ...(spec.policy?.maxNumbers !== undefined ? { max: spec.policy.maxNumbers } : {}),
    },
    monthlySpend: { before: spendBefore.total, after: spendAfter.total, ...(max ? { max } : {}) },
    policy: {
      ...(spec.policy?.allowedCountries ? { allowedCountries: spec.policy.allowedCountries } : {}),
      ...(spec.policy?.maxPricePerNumber ? { maxPricePerNumber: spec.policy.maxPricePerNumber } : {}),
      ...(spec.allowedNamespaces ? { allowedNamespaces: spec.allowedNamespaces } : {}),
      defaultDeletionPolicy: spec.defaultDeletionPolicy ?? "Retain",
    },
  };
  if (spendAfter.skipped)
    plan.monthlySpend.uncounted = `${spendAfter.skipped} prices in other currencies than ${currency} are not added up`;
  if (!state.usable.ok) plan.unusable = `${state.usable.reason}: ${state.usable.message}`;
  return plan;
}

/** A workspace over its limits after the change: the operator refuses more, and the reviewer should know why. */
function workspaceViolations(workspace: WorkspacePlan): Violation[] {
  const violations: Violation[] = [];
  const object = `BirdWorkspace/${workspace.name}`;
  const { numbers, monthlySpend } = workspace;
  if (numbers.max !== undefined && numbers.after > numbers.max) {
    violations.push({
      object,
      kind: "BirdWorkspace",
      reason: Reason.QuotaExceeded,
      message:
        `${numbers.after} numbers paid for after this change, above spec.policy.maxNumbers ` +
        `${numbers.max}${numbers.before > numbers.max ? " (already above before it)" : ""}`,
    });
  }
  if (monthlySpend.max) {
    const over = spendViolation([monthlySpend.after], monthlySpend.max, "spec.policy.maxMonthlySpend");
    const already = spendViolation([monthlySpend.before], monthlySpend.max, "") ? " (already above before it)" : "";
    if (over)
      violations.push({
        object,
        kind: "BirdWorkspace",
        reason: Reason.QuotaExceeded,
        message: `the monthly spend after this change, ${over.message}${already}`,
      });
  }
  return violations;
}

function resourceViolations(resources: readonly ResourcePlan[]): Violation[] {
  return resources.flatMap((r) =>
    r.problems
      .filter((p) => p.severity === "violation")
      .map((p) => ({ object: `${r.namespace}/${r.name}`, kind: r.kind, reason: p.reason, message: p.message })),
  );
}

function summarize(resources: readonly ResourcePlan[], violations: readonly Violation[]): Plan["summary"] {
  const count = (type: string): number =>
    resources.reduce((n, r) => n + r.actions.filter((a) => a.type === type).length, 0);
  const countries = (type: "activate" | "deactivate"): number =>
    resources.reduce((n, r) => n + r.actions.reduce((m, a) => m + (a.type === type ? a.countries.length : 0), 0), 0);
  const changed = (r: ResourcePlan): boolean =>
    (r.operation !== "none" && r.apiServer.dryRun !== "refused") || r.actions.length > 0;
  return {
    changes: resources.filter(changed).length,
    purchases: count("buy"),
    adoptions: count("adopt"),
    claims: count("take-over") + count("claim-sender"),
    activations: countries("activate"),
    deactivations: countries("deactivate"),
    cancellations: count("cancel-subscription"),
    releases: count("release"),
    violations: violations.length,
  };
}

/** Top-level spec fields whose values differ. */
function changedFields(from: unknown, to: unknown): string[] {
  const a = (from ?? {}) as Record<string, unknown>;
  const b = (to ?? {}) as Record<string, unknown>;
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .filter((key) => canonical(a[key]) !== canonical(b[key]))
    .sort();
}

/** JSON with object keys sorted, so that equal values compare equal whatever order their keys came in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
        )
      : v,
  );
}

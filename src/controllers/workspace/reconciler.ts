import { createHash } from "node:crypto";
import type { V1Secret } from "@kubernetes/client-node";
import type {
  AlphaSender,
  BirdNumber,
  BirdSender,
  BirdWorkspace,
  BirdWorkspaceStatus,
  PhoneNumber,
} from "../../api/v1alpha1/index.js";
import { EventReason, IN_USE_FINALIZER, Reason, READY, SYNCED } from "../../api/v1alpha1/conditions.js";
import { isBirdApiError } from "../../bird/errors.js";
import { formatMoney } from "../../bird/money.js";
import { Phase, type RecordStore } from "../../ownership/records.js";
import type { UsageBook } from "../../ownership/usage.js";
import { FORGET, type ReconcileContext, type ReconcileResult } from "../../runtime/controller.js";
import { errorMessage } from "../../runtime/errors.js";
import type { EventRecorder } from "../../runtime/events.js";
import { addFinalizer, hasFinalizer, removeFinalizer } from "../../runtime/finalizer.js";
import { objectKey, type Informer } from "../../runtime/informer.js";
import { createMergePatch } from "../../runtime/merge-patch.js";
import type { ResourceClient } from "../../runtime/resource-client.js";
import { findCondition, rfc3339, setCondition, statusChanged, type ConditionUpdate } from "../../runtime/status.js";
import { sumMoney } from "../guardrails.js";
import { duplicateOf, type WorkspaceConnections } from "../../workspace/connections.js";

export interface WorkspaceReconcilerOptions {
  client: ResourceClient<BirdWorkspace>;
  informer: Informer<BirdWorkspace>;
  phoneNumbers: Informer<PhoneNumber>;
  alphaSenders: Informer<AlphaSender>;
  numberRecords: RecordStore<BirdNumber>;
  senderRecords: RecordStore<BirdSender>;
  usage: UsageBook;
  /** The AccessKey Secrets (operator namespace): kept from deletion while a workspace names them. */
  secrets: Informer<V1Secret>;
  secretClient: ResourceClient<V1Secret>;
  connections: WorkspaceConnections;
  events: EventRecorder;
  resyncMs: number;
  now?: () => Date;
}

/** How many users a deletion message names before "and N more". */
const USERS_NAMED = 10;

/**
 * Ready = Bird accepts the workspace's AccessKey (one cheap authenticated GET per resync) and no older BirdWorkspace
 * names the same Bird workspace; status counts what the workspace pays for. A finalizer keeps the workspace, and its
 * AccessKey Secret, while resources or ownership records still use it: deleting them first is what cancels or keeps
 * their numbers, and that needs the workspace.
 */
export class WorkspaceReconciler {
  private readonly checked = new Map<string, { fingerprint: string; at: number; ready: ConditionUpdate }>();

  constructor(private readonly options: WorkspaceReconcilerOptions) {}

  readonly reconcile = async (name: string, _context: ReconcileContext): Promise<ReconcileResult> => {
    const found = this.options.informer.get(name);
    if (!found) {
      this.checked.delete(name);
      return FORGET;
    }
    if (found.metadata?.deletionTimestamp) return this.deleting(found);
    const workspace = await addFinalizer(this.options.client, IN_USE_FINALIZER, found);
    await this.protectSecret(workspace);
    const ready = await this.check(workspace);
    await this.writeStatus(workspace, ready, { ...this.counts(workspace) });
    return { requeueAfterMs: ready.status === "True" ? undefined : Math.min(this.options.resyncMs, 30_000) };
  };

  /** Deletion waits for every user to go, naming them; then the finalizers (workspace, then Secret) go. */
  private async deleting(workspace: BirdWorkspace): Promise<ReconcileResult> {
    if (!hasFinalizer(workspace, IN_USE_FINALIZER)) return {};
    const users = this.users(workspace);
    if (users.length) {
      const named = users.slice(0, USERS_NAMED).join(", ");
      const more = users.length > USERS_NAMED ? ` and ${users.length - USERS_NAMED} more` : "";
      const message =
        `still used by ${named}${more}: delete those first (their deletion policy decides what happens in Bird), ` +
        "or move their records elsewhere";
      const ready: ConditionUpdate = { type: READY, status: "False", reason: Reason.InUse, message };
      if (findCondition(workspace.status?.conditions, READY)?.reason !== Reason.InUse)
        this.options.events.record(workspace, "Warning", EventReason.WorkspaceInUse, message);
      await this.writeStatus(workspace, ready, this.counts(workspace));
      return {};
    }
    await removeFinalizer(this.options.client, IN_USE_FINALIZER, workspace);
    this.checked.delete(workspace.metadata?.name ?? "");
    await this.unprotectSecret(workspace);
    return {};
  }

  /** Who still uses the workspace: its PhoneNumbers, AlphaSenders and ownership records. */
  private users(workspace: BirdWorkspace): string[] {
    const name = workspace.metadata?.name ?? "";
    const uses = (o: { spec: { workspaceRef: { name: string } } }): boolean => o.spec.workspaceRef.name === name;
    return [
      ...this.options.phoneNumbers
        .list()
        .filter(uses)
        .map((pn) => `PhoneNumber ${objectKey(pn)}`),
      ...this.options.alphaSenders
        .list()
        .filter(uses)
        .map((alphaSender) => `AlphaSender ${objectKey(alphaSender)}`),
      ...this.options.numberRecords.inWorkspace(name).map((r) => `BirdNumber ${r.metadata?.name}`),
      ...this.options.senderRecords.inWorkspace(name).map((r) => `BirdSender ${r.metadata?.name}`),
    ];
  }

  private async writeStatus(
    workspace: BirdWorkspace,
    ready: ConditionUpdate,
    counts: Partial<BirdWorkspaceStatus>,
  ): Promise<void> {
    const status: BirdWorkspaceStatus = structuredClone(workspace.status ?? {});
    const previous = findCondition(status.conditions, READY);
    const generation = workspace.metadata?.generation;
    const now = this.now();
    const synced: ConditionUpdate =
      ready.status === "True"
        ? { type: SYNCED, status: "True", reason: Reason.ReconcileSuccess, message: "" }
        : { type: SYNCED, status: "False", reason: ready.reason, message: ready.message };
    status.conditions = setCondition(setCondition(status.conditions, ready, generation, now), synced, generation, now);
    status.observedGeneration = generation;
    Object.assign(status, counts);
    if (previous?.status !== ready.status || previous.reason !== ready.reason) {
      const type = ready.status === "True" ? "Normal" : "Warning";
      this.options.events.record(
        workspace,
        type,
        ready.status === "True" ? EventReason.WorkspaceReady : EventReason.WorkspaceNotReady,
        ready.message,
      );
    }
    if (!statusChanged(workspace.status, status)) return;
    status.lastSyncTime = rfc3339(now);
    await this.options.client.patchStatus(
      undefined,
      workspace.metadata?.name ?? "",
      createMergePatch(workspace.status ?? {}, status),
    );
  }

  /** Calls Bird only when the credentials or the spec changed, or the last check is a resync old. */
  private async check(workspace: BirdWorkspace): Promise<ConditionUpdate> {
    const name = workspace.metadata?.name ?? "";
    const key = this.options.connections.accessKey(workspace);
    if (!key.ok) return { type: READY, status: "False", reason: key.reason, message: key.message };
    const fingerprint = JSON.stringify([workspace.metadata?.generation, hashKey(key.value)]);
    const last = this.checked.get(name);
    if (last && last.fingerprint === fingerprint && this.now().getTime() - last.at < this.options.resyncMs * 0.9)
      return last.ready.status === "True" ? this.unlessDuplicate(workspace, last.ready) : last.ready;
    const probed = await this.probe(workspace);
    this.checked.set(name, { fingerprint, at: this.now().getTime(), ready: probed });
    return probed.status === "True" ? this.unlessDuplicate(workspace, probed) : probed;
  }

  /**
   * A workspace that works is still refused when an older one
   * names the same Bird workspace (one bill, one set of limits).
   */
  private unlessDuplicate(workspace: BirdWorkspace, ready: ConditionUpdate): ConditionUpdate {
    const first = duplicateOf(workspace, this.options.informer.list());
    if (!first) return ready;
    const message =
      `BirdWorkspace "${first.metadata?.name}" already names Bird workspace ${workspace.spec.workspaceId} ` +
      `at ${workspace.spec.endpoint ?? "https://api.bird.com"}: two would keep two sets of limits for one bill, ` +
      `so this one is not used; delete it, or point resources at "${first.metadata?.name}"`;
    return { type: READY, status: "False", reason: Reason.DuplicateWorkspace, message };
  }

  private async probe(workspace: BirdWorkspace): Promise<ConditionUpdate> {
    const name = workspace.metadata?.name ?? "";
    const connection = this.options.connections.connect(name);
    if (!connection.ok) return { type: READY, status: "False", reason: connection.reason, message: connection.message };
    const endpoint = workspace.spec.endpoint ?? "https://api.bird.com";
    try {
      await connection.value.client.listAlphaNumbers({ limit: 1 });
      return {
        type: READY,
        status: "True",
        reason: Reason.Available,
        message: `Bird at ${endpoint} accepts the AccessKey for workspace ${workspace.spec.workspaceId}`,
      };
    } catch (error) {
      return probeFailure(workspace, endpoint, error);
    }
  }

  /** What the workspace pays for, as its policies count it (see workspaceUsage), from the record caches. */
  private counts(
    workspace: BirdWorkspace,
  ): Pick<BirdWorkspaceStatus, "numbers" | "releasedNumbers" | "senders" | "monthlySpend" | "monthlySpendText"> {
    const name = workspace.metadata?.name ?? "";
    const numberRecords = this.options.numberRecords.inWorkspace(name);
    const connection = this.options.connections.connect(name);
    const usage = connection.ok ? this.options.usage.of(connection.value) : undefined;
    const held = numberRecords.filter(
      (r) => r.status?.phase === Phase.Bound || r.status?.phase === Phase.Purchasing,
    ).length;
    const currency = workspace.spec.policy?.maxMonthlySpend?.currencyCode ?? usage?.prices[0]?.currencyCode;
    const spend = currency && usage ? sumMoney(usage.prices, currency).total : undefined;
    return {
      numbers: usage?.numbers ?? held,
      releasedNumbers: numberRecords.filter((r) => r.status?.phase === Phase.Released).length,
      senders: this.options.senderRecords.inWorkspace(name).length,
      monthlySpend: spend,
      monthlySpendText: spend ? formatMoney(spend) : undefined,
    };
  }

  /** The AccessKey Secret stays while a workspace names it: cleanup of numbers needs the key. */
  private async protectSecret(workspace: BirdWorkspace): Promise<void> {
    const secret = this.secretOf(workspace);
    if (secret && !secret.metadata?.deletionTimestamp)
      await addFinalizer(this.options.secretClient, IN_USE_FINALIZER, secret);
  }

  private async unprotectSecret(workspace: BirdWorkspace): Promise<void> {
    const secret = this.secretOf(workspace);
    if (!secret) return;
    const ref = workspace.spec.accessKeySecretRef;
    const stillNamed = this.options.informer
      .list()
      .some(
        (w) =>
          w !== workspace &&
          w.metadata?.name !== workspace.metadata?.name &&
          w.spec.accessKeySecretRef.namespace === ref.namespace &&
          w.spec.accessKeySecretRef.name === ref.name,
      );
    if (!stillNamed) await removeFinalizer(this.options.secretClient, IN_USE_FINALIZER, secret);
  }

  private secretOf(workspace: BirdWorkspace): V1Secret | undefined {
    const ref = workspace.spec.accessKeySecretRef;
    return this.options.secrets.get(`${ref.namespace}/${ref.name}`);
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }
}

/** A fingerprint of the key that changes when it rotates, without keeping the key itself around. */
function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 16);
}

/** Why the probe call failed, as the Ready condition says it: a bad key, missing permissions, or Bird unreachable. */
function probeFailure(workspace: BirdWorkspace, endpoint: string, error: unknown): ConditionUpdate {
  const ref = workspace.spec.accessKeySecretRef;
  const secret = `Secret ${ref.namespace}/${ref.name}`;
  if (isBirdApiError(error) && error.kind === "unauthorized") {
    return {
      type: READY,
      status: "False",
      reason: Reason.Unauthorized,
      message: `Bird rejected the AccessKey in ${secret} (401): put a valid key there`,
    };
  }
  if (isBirdApiError(error) && error.kind === "forbidden") {
    return {
      type: READY,
      status: "False",
      reason: Reason.PermissionDenied,
      message:
        `the AccessKey in ${secret} lacks permission for organization ${workspace.spec.organizationId} ` +
        `/ workspace ${workspace.spec.workspaceId} (403): grant its access role the Numbers permissions, ` +
        "or fix the ids",
    };
  }
  return {
    type: READY,
    status: "False",
    reason: Reason.BirdUnreachable,
    message: `cannot reach Bird at ${endpoint}: ${errorMessage(error)}`,
  };
}

import { createHash } from "node:crypto";
import type { AlphaSender, BirdWorkspace, BirdWorkspaceStatus, PhoneNumber } from "../../api/v1alpha1/index.js";
import { EventReason, Reason, READY, SYNCED } from "../../api/v1alpha1/conditions.js";
import { isBirdApiError } from "../../bird/errors.js";
import type { Money } from "../../bird/types.js";
import { FORGET, type ReconcileContext, type ReconcileResult } from "../../runtime/controller.js";
import { errorMessage } from "../../runtime/errors.js";
import type { EventRecorder } from "../../runtime/events.js";
import type { Informer } from "../../runtime/informer.js";
import { createMergePatch } from "../../runtime/merge-patch.js";
import type { ResourceClient } from "../../runtime/resource-client.js";
import { findCondition, rfc3339, setCondition, statusChanged, type ConditionUpdate } from "../../runtime/status.js";
import { sumMoney } from "../guardrails.js";
import { recordedNumberId } from "../phone-number/purchase.js";
import type { WorkspaceConnections } from "./connections.js";

export interface WorkspaceReconcilerOptions {
  client: ResourceClient<BirdWorkspace>;
  informer: Informer<BirdWorkspace>;
  phoneNumbers: Informer<PhoneNumber>;
  alphaSenders: Informer<AlphaSender>;
  connections: WorkspaceConnections;
  events: EventRecorder;
  committedSpend: (workspaceName: string) => Money[];
  resyncMs: number;
  now?: () => Date;
}

/**
 * Ready = Bird accepts the workspace's AccessKey (one cheap authenticated GET per resync); status counts what the
 * operator manages in it and what that costs a month. Count updates alone never call Bird.
 */
export class WorkspaceReconciler {
  private readonly checked = new Map<string, { fingerprint: string; at: number; ready: ConditionUpdate }>();

  constructor(private readonly o: WorkspaceReconcilerOptions) {}

  readonly reconcile = async (name: string, _context: ReconcileContext): Promise<ReconcileResult> => {
    const workspace = this.o.informer.get(name);
    if (!workspace) {
      this.checked.delete(name);
      return FORGET;
    }
    const ready = await this.check(workspace);
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
    Object.assign(status, this.counts(workspace));
    if (previous?.status !== ready.status || previous.reason !== ready.reason) {
      const type = ready.status === "True" ? "Normal" : "Warning";
      this.o.events.record(workspace, type, ready.status === "True" ? EventReason.WorkspaceReady : EventReason.WorkspaceNotReady, ready.message);
    }
    if (statusChanged(workspace.status, status)) {
      status.lastSyncTime = rfc3339(now);
      await this.o.client.patchStatus(undefined, name, createMergePatch(workspace.status ?? {}, status));
    }
    return { requeueAfterMs: ready.status === "True" ? undefined : Math.min(this.o.resyncMs, 30_000) };
  };

  /** Calls Bird only when the credentials or the spec changed, or the last check is a resync old. */
  private async check(workspace: BirdWorkspace): Promise<ConditionUpdate> {
    const name = workspace.metadata?.name ?? "";
    const key = this.o.connections.accessKey(workspace);
    if (!key.ok) return { type: READY, status: "False", reason: key.reason, message: key.message };
    const fingerprint = JSON.stringify([workspace.metadata?.generation, hashKey(key.value)]);
    const last = this.checked.get(name);
    if (last && last.fingerprint === fingerprint && this.now().getTime() - last.at < this.o.resyncMs * 0.9) return last.ready;
    const ready = await this.probe(workspace);
    this.checked.set(name, { fingerprint, at: this.now().getTime(), ready });
    return ready;
  }

  private async probe(workspace: BirdWorkspace): Promise<ConditionUpdate> {
    const name = workspace.metadata?.name ?? "";
    const connection = this.o.connections.connect(name);
    if (!connection.ok) return { type: READY, status: "False", reason: connection.reason, message: connection.message };
    const endpoint = workspace.spec.endpoint ?? "https://api.bird.com";
    try {
      await connection.value.client.listAlphaNumbers({ limit: 1 });
      return { type: READY, status: "True", reason: Reason.Available, message: `Bird at ${endpoint} accepts the AccessKey for workspace ${workspace.spec.workspaceId}` };
    } catch (error) {
      const ref = workspace.spec.accessKeySecretRef;
      const secret = `Secret ${ref.namespace}/${ref.name}`;
      if (isBirdApiError(error) && error.kind === "unauthorized") {
        return { type: READY, status: "False", reason: Reason.Unauthorized, message: `Bird rejected the AccessKey in ${secret} (401): put a valid key there` };
      }
      if (isBirdApiError(error) && error.kind === "forbidden") {
        return { type: READY, status: "False", reason: Reason.PermissionDenied, message: `the AccessKey in ${secret} lacks permission for organization ${workspace.spec.organizationId} / workspace ${workspace.spec.workspaceId} (403): grant its access role the Numbers permissions, or fix the ids` };
      }
      return { type: READY, status: "False", reason: Reason.BirdUnreachable, message: `cannot reach Bird at ${endpoint}: ${errorMessage(error)}` };
    }
  }

  private counts(workspace: BirdWorkspace): Pick<BirdWorkspaceStatus, "numbers" | "senders" | "monthlySpend"> {
    const name = workspace.metadata?.name ?? "";
    const numbers = this.o.phoneNumbers.list().filter((pn) => pn.spec.workspaceRef.name === name && recordedNumberId(pn)).length;
    const senders = this.o.alphaSenders.list().filter((as) => as.spec.workspaceRef.name === name && as.status?.alphaNumberId).length;
    const prices = this.o.committedSpend(name);
    const currency = workspace.spec.policy?.maxMonthlySpend?.currencyCode ?? prices[0]?.currencyCode;
    return { numbers, senders, monthlySpend: currency ? sumMoney(prices, currency).total : undefined };
  }

  private now(): Date {
    return this.o.now?.() ?? new Date();
  }
}

/** A fingerprint of the key that changes when it rotates, without keeping the key itself around. */
function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 16);
}

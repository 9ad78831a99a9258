import type { KubernetesObject } from "@kubernetes/client-node";
import { EventReason } from "../../api/v1alpha1/conditions.js";
import type { BirdNumber, RecordPhase } from "../../api/v1alpha1/index.js";
import { formatMoney } from "../../bird/money.js";
import type { Logger } from "../../log.js";
import { Phase, unheldPhase, type OwnershipRecord, type RecordStore } from "../../ownership/records.js";
import { FORGET, type ReconcileContext, type ReconcileResult } from "../../runtime/controller.js";
import { isApiStatus } from "../../runtime/errors.js";
import type { EventRecorder } from "../../runtime/events.js";
import type { Informer } from "../../runtime/informer.js";
import type { ResourceClient } from "../../runtime/resource-client.js";
import { rfc3339 } from "../../runtime/status.js";
import { lookupNumber } from "../../workspace/lookup.js";
import type { WorkspaceConnection, WorkspaceConnections } from "../../workspace/connections.js";

import type { PurchaseGrace } from "../../ownership/purchase-grace.js";
export interface RecordReconcilerOptions<T extends OwnershipRecord, H extends KubernetesObject> {
  records: RecordStore<T>;
  /** The kind that holds these records (PhoneNumber, AlphaSender): its cache, and a client for a consistent read. */
  holders: Informer<H>;
  holderClient: ResourceClient<H>;
  connections: WorkspaceConnections;
  events: EventRecorder;
  /** Namespaces this operator serves (empty: all); holders elsewhere belong to another install. */
  namespaces: readonly string[];
  /** When a purchase left by a holder that is gone counts as never having reached Bird. */
  purchaseGrace: PurchaseGrace;
  resyncMs: number;
  now?: () => Date;
}

/**
 * Looks after the ownership records themselves, the way Kubernetes' PV controller looks after volumes: a record whose
 * holder is gone without the operator's cleanup (its finalizer removed by hand, a namespace force-deleted) is marked
 * Released, never cancelled; a purchase left Purchasing by a holder that is gone is resolved by lookup; a record
 * without a holder shows Available or Reserved; a number record learns its price once (one subscription GET).
 */
export class RecordReconciler<T extends OwnershipRecord, H extends KubernetesObject> {
  constructor(private readonly options: RecordReconcilerOptions<T, H>) {}

  readonly reconcile = async (name: string, context: ReconcileContext): Promise<ReconcileResult> => {
    const record = this.options.records.get(name);
    if (!record) return FORGET;
    const resolved = this.options.connections.connect(record.spec.workspaceRef.name);
    // A workspace this install does not serve (another install's, or gone): its records are not ours to change.
    if (!resolved.ok) return {};
    const claim = record.spec.claimRef;
    if (claim && !this.serves(claim.namespace)) return {};
    if (!claim?.uid) return this.setPhase(record, unheldPhase(record), context.log);
    if (record.status?.phase === Phase.Released || (await this.holderAlive(record)))
      return this.fillPrice(record, resolved.value, context.log);
    return this.holderGone(record, resolved.value, context.log);
  };

  private serves(namespace: string): boolean {
    return this.options.namespaces.length === 0 || this.options.namespaces.includes(namespace);
  }

  /** Whether the object the record names (by uid) exists: the cache first, then a consistent read. */
  private async holderAlive(record: T): Promise<boolean> {
    const { namespace, name = "", uid } = record.spec.claimRef ?? { namespace: "" };
    if (this.options.holders.get(`${namespace}/${name}`)?.metadata?.uid === uid) return true;
    try {
      return (await this.options.holderClient.get(namespace, name)).metadata?.uid === uid;
    } catch (error) {
      if (isApiStatus(error, 404)) return false;
      throw error;
    }
  }

  /** The holder went without cleanup: keep what the record binds (Released), and say so. */
  private async holderGone(record: T, connection: WorkspaceConnection, log: Logger): Promise<ReconcileResult> {
    const holder = `${record.spec.claimRef?.namespace}/${record.spec.claimRef?.name}`;
    if (record.status?.phase === Phase.Purchasing)
      return this.orphanedPurchase(record as T & BirdNumber, holder, connection, log);
    if (record.status?.phase === Phase.Lost) {
      await this.options.records.remove(record);
      return {};
    }
    const message =
      `${holder} was deleted without the operator's cleanup (its finalizer was removed by hand, ` +
      `or its namespace force-deleted): kept, still paid for; only namespace "${record.spec.claimRef?.namespace}" ` +
      "may take it again, or the platform team after clearing spec.claimRef";
    await this.options.records.update({
      ...record,
      status: { ...record.status, phase: Phase.Released, releasedAt: rfc3339(this.now()), message },
    });
    log.info({ record: record.metadata?.name, holder }, "Holder gone; record released");
    this.options.events.record(record, "Warning", EventReason.HolderGone, message);
    return {};
  }

  /**
   * A purchase whose claimant is gone: bought → Released; never reached Bird (past the grace period) → no record.
   */
  private async orphanedPurchase(
    record: T & BirdNumber,
    holder: string,
    connection: WorkspaceConnection,
    log: Logger,
  ): Promise<ReconcileResult> {
    const found = await lookupNumber(connection, record.spec.numberString);
    if (found) {
      const message = `bought for ${holder}, which was deleted meanwhile: kept, still paid for`;
      const status = {
        ...record.status,
        phase: Phase.Released,
        numberId: found.id,
        endpointId: found.endpointId,
        purchase: undefined,
        releasedAt: rfc3339(this.now()),
        message,
      };
      await this.options.records.update({ ...record, status });
      this.options.events.record(record, "Warning", EventReason.HolderGone, message);
      return {};
    }
    const remaining = this.options.purchaseGrace.remainingMs(record);
    if (remaining > 0) return { requeueAfterMs: Math.max(1000, Math.min(remaining, this.options.resyncMs)) };
    await this.options.records.remove(record);
    log.info({ record: record.metadata?.name, holder }, "Orphaned purchase never reached Bird; record removed");
    return {};
  }

  private async setPhase(record: T, phase: RecordPhase, log: Logger): Promise<ReconcileResult> {
    if (record.status?.phase === phase || record.status?.phase === Phase.Lost) return {};
    await this.options.records.update({ ...record, status: { ...record.status, phase } });
    log.info({ record: record.metadata?.name, phase }, "Record phase");
    return {};
  }

  /** A number record without a price (adopted, reserved by hand) learns it once: the spend policy counts it. */
  private async fillPrice(record: T, connection: WorkspaceConnection, log: Logger): Promise<ReconcileResult> {
    if (!("numberString" in record.spec)) return {};
    const number = record as T & BirdNumber;
    const endpointId = number.status?.endpointId ?? number.status?.numberId;
    if (number.status?.monthlyPrice || !endpointId) return {};
    const subscription = await connection.client.getSubscription(endpointId, "main", { background: true });
    if (!subscription.price) return {};
    await this.options.records.update({
      ...record,
      status: { ...record.status, monthlyPrice: subscription.price, monthlyPriceText: formatMoney(subscription.price) },
    });
    log.debug({ record: record.metadata?.name, price: formatMoney(subscription.price) }, "Recorded the number's price");
    return {};
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }
}

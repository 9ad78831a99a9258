import {
  PHONE_NUMBER_KIND,
  type BirdNumber,
  type DeletionPolicy,
  type PhoneNumber,
  type PhoneNumberStatus,
} from "../../api/v1alpha1/index.js";
import { EventReason, FINALIZER, Reason, READY } from "../../api/v1alpha1/conditions.js";
import { formatMoney } from "../../bird/money.js";
import { subscriptionEnded } from "../../bird/subscription.js";
import type { LongCodeNumber } from "../../bird/types.js";
import type { Logger } from "../../log.js";
import { Phase, type RecordStore } from "../../ownership/records.js";
import type { ReconcileContext, ReconcileResult } from "../../runtime/controller.js";
import { PermanentError, TransientError, Waiting } from "../../runtime/errors.js";
import { addFinalizer } from "../../runtime/finalizer.js";
import { objectKey } from "../../runtime/informer.js";
import { rfc3339, type ConditionUpdate } from "../../runtime/status.js";
import {
  mayHaveClaimed,
  notReady,
  reconcileManaged,
  type CleanupOutcome,
  type StepOutcome,
} from "../../runtime/managed.js";
import type { SendGuard } from "../../bird/types.js";
import { holderGuard } from "../holder-guard.js";
import type { ManagedReconcilerOptions } from "../managed-options.js";
import type { WorkspaceConnection } from "../../workspace/connections.js";
import { deletionKeepReason, effectiveDeletionPolicy } from "../deletion-policy.js";
import type { Held, NumberClaims } from "./claim.js";
import { desiredDestinations, destinationRows, observedStatus, provisioningState } from "./desired.js";
import { syncDestinations } from "./destinations.js";
import { birdNumbers, type NumberExternal, type NumberExternalFactory } from "./external.js";

export interface PhoneNumberReconcilerOptions extends ManagedReconcilerOptions<PhoneNumber> {
  records: RecordStore<BirdNumber>;
  claims: NumberClaims;
  /** How often a number that Bird is still provisioning is re-read. */
  provisioningPollMs?: number;
  /** Puts a key back on the queue now: a number it waits for was seen provisioned. */
  wake?: (key: string) => void;
  /** Bird as this reconciler sees it, per workspace; default the real one (tests hand in a fake). */
  external?: NumberExternalFactory;
}

/** With a poller to wake it, a provisioning number's own requeue comes this many polls later, in case. */
const PROVISIONING_FALLBACK_POLLS = 5;

/**
 * Reconciles one PhoneNumber, top to bottom: admission (workspace Ready, namespace allowed), then the number it holds
 * (the BirdNumber record bound to its uid; claimed, adopted or bought if none), then Bird's view of that number,
 * destinations, and status written once. Deletion releases or cancels what the record binds, nothing else.
 */
export class PhoneNumberReconciler {
  constructor(private readonly options: PhoneNumberReconcilerOptions) {}

  readonly reconcile = (key: string, context: ReconcileContext): Promise<ReconcileResult> =>
    reconcileManaged(
      {
        client: this.options.client,
        events: this.options.events,
        informer: this.options.informer,
        log: context.log,
        now: () => this.now(),
      },
      key,
      {
        apply: (pn, status) => this.apply(pn, status, context.log).finally(() => describePrice(status)),
        cleanup: (pn, status) => this.cleanup(pn, status, context.log),
      },
    );

  private async apply(initial: PhoneNumber, status: PhoneNumberStatus, log: Logger): Promise<StepOutcome<PhoneNumber>> {
    // The cache first; an object it shows holding nothing is asked about once more, of the API server itself, unless it
    // never carried the finalizer nor a status (then it never claimed, and the finalizer patch below fails if that
    // changed).
    const held = await this.options.records.findHeld(initial, { askServer: mayHaveClaimed(initial) });
    // Status reports only what a record binds: an object that holds none shows no number (a restored or copied status
    // would otherwise show someone else's).
    if (!held) clearNumberStatus(status);
    const external = this.external(this.admit(initial, status, held));
    status.deletionPolicy = effectiveDeletionPolicy(initial, external.workspace);
    const observeOnly = initial.spec.managementPolicy === "ObserveOnly";
    // ObserveOnly never claims (nor buys); one that holds a record from its Full days keeps reporting on it.
    if (observeOnly && !held) return this.observeOnly(initial, status, external);
    // Only now, admitted, may the object claim anything: the finalizer goes first, so a claim is never left behind.
    const pn = await addFinalizer(this.options.client, FINALIZER, initial);
    const claimed =
      held?.status?.phase === Phase.Bound
        ? { record: held }
        : observeOnly && held
          ? await this.options.claims.observeHeld(pn, held, external, log)
          : await this.options.claims.obtain(pn, held, external, log);
    status.boundTo = claimed.record.metadata?.name;
    const number = claimed.number ?? (await this.observeNumber(claimed, external));
    Object.assign(status, observedStatus(number));
    status.pinHint = pn.spec.numberString
      ? undefined
      : `pin spec.numberString: "${number.numberString}" in Git ` +
        "so a rebuilt cluster adopts this number instead of buying another";
    const provisioning = this.provisioning(pn, number, external, status, claimed.purchased === true);
    if (provisioning) return { ...provisioning, object: pn };
    const subscriptionRecheckMs = await this.syncSubscription(number, external, status);
    if (!observeOnly) {
      const guard = this.guard(pn, claimed.record);
      await syncDestinations(pn, number, external, status, { events: this.options.events, log, guard });
    }
    return { object: pn, ready: readiness(pn, number, status), requeueAfterMs: subscriptionRecheckMs };
  }

  /**
   * The workspace connection, or why not (Waiting / Forbidden). A resource that holds a number in a namespace no longer
   * allowed keeps it (nothing is released implicitly) and is told so.
   */
  private admit(pn: PhoneNumber, status: PhoneNumberStatus, held: BirdNumber | undefined): WorkspaceConnection {
    try {
      return this.options.admission.connect(pn);
    } catch (error) {
      if (held && error instanceof Error && "reason" in error && error.reason === Reason.Forbidden) {
        status.boundTo = held.metadata?.name;
        error.message +=
          `; this resource still holds ${held.spec.numberString} and ` +
          "nothing changes in Bird until the namespace is allowed again (deleting the resource keeps the number, " +
          `shown Released in kubectl get birdnumber ${held.metadata?.name})`;
      }
      throw error;
    }
  }

  /**
   * While Bird provisions the number: poll it (one list per workspace serves every waiting number) and come back when
   * it is provisioned. A state this operator does not know is shown verbatim and looked at again at the resync.
   */
  private provisioning(
    pn: PhoneNumber,
    number: LongCodeNumber,
    external: NumberExternal,
    status: PhoneNumberStatus,
    justBought: boolean,
  ): StepOutcome<PhoneNumber> | undefined {
    const state = provisioningState(number);
    if (state === "provisioned") return undefined;
    if (state === "unknown") {
      const message =
        `Bird reports provisioningStatus "${number.endpoint?.provisioningStatus ?? "(none)"}" ` +
        `for ${number.numberString}, which this operator does not know; ` +
        `it is shown as Bird sent it and checked again in ${Math.round(this.options.resyncMs / 1000)} s`;
      return { ready: notReady(Reason.UnknownProvisioningStatus, message), requeueAfterMs: this.options.resyncMs };
    }
    const pollMs = this.options.provisioningPollMs ?? 1000;
    const { wake } = this.options;
    const key = objectKey(pn);
    if (wake) external.awaitProvisioned(number.id, pollMs, () => wake(key));
    const ready = notReady(
      Reason.Provisioning,
      `Bird is provisioning ${number.numberString} (${number.endpoint?.provisioningStatus})`,
    );
    // A number bought moments ago for a new object: its first status write waits for the number to be provisioned
    // (the poller wakes it), saving a write per purchase while thousands provision.
    const deferStatusWrite = justBought && !pn.status?.conditions?.length;
    return { ready, requeueAfterMs: wake ? PROVISIONING_FALLBACK_POLLS * pollMs : pollMs, deferStatusWrite };
  }

  /** ObserveOnly without a record: report what Bird has for spec.numberString, unless another namespace holds it. */
  private async observeOnly(
    pn: PhoneNumber,
    status: PhoneNumberStatus,
    external: NumberExternal,
  ): Promise<StepOutcome<PhoneNumber>> {
    const numberString = pn.spec.numberString ?? "";
    const record = this.options.records.get(`${pn.spec.workspaceRef.name}.${numberString.slice(1)}`);
    if (record?.spec.claimRef && record.spec.claimRef.namespace !== pn.metadata?.namespace) {
      throw new Waiting(
        `${numberString} is held by namespace "${record.spec.claimRef.namespace}"; ` +
          "ObserveOnly reports only numbers of this namespace or no one's",
        Reason.NumberConflict,
        this.options.resyncMs,
      );
    }
    const number = await external.observe({ numberString });
    if (!number)
      throw new Waiting(
        `ObserveOnly: ${numberString} is not in the workspace; nothing is bought in this mode`,
        Reason.NumberUnavailable,
        this.options.resyncMs,
      );
    Object.assign(status, observedStatus(number), { boundTo: undefined });
    const subscriptionRecheckMs = await this.syncSubscription(number, external, status);
    status.destinations = destinationRows(desiredDestinations(pn.spec), (capability) =>
      number.endpoint?.capabilities?.find((c) => c.name === capability)?.outbound?.destinationStatuses?.active
        ? "unknown"
        : "inactive",
    );
    return { ready: readiness(pn, number, status), requeueAfterMs: subscriptionRecheckMs };
  }

  /** The number a record binds, as Bird has it now. Gone from the workspace: the record is Lost (NumberLost). */
  private async observeNumber(held: Held, external: NumberExternal): Promise<LongCodeNumber> {
    const id = held.record.status?.numberId;
    const number = await external.observe(
      id ? { id } : { numberString: held.record.spec.numberString, uncached: true },
    );
    if (number) {
      // Held but not Bound (a number seen lost that came back, a release undone): bound again.
      if (held.record.status?.phase !== Phase.Bound) await this.options.claims.rebind(held.record, number);
      return number;
    }
    if (held.record.status?.phase !== Phase.Lost) {
      await this.options.records.update({
        ...held.record,
        status: {
          ...held.record.status,
          phase: Phase.Lost,
          message: `${held.record.spec.numberString} is no longer in the Bird workspace`,
        },
      });
    }
    const message =
      `${held.record.spec.numberString} is no longer in the workspace; nothing was bought to replace it. ` +
      "Delete this PhoneNumber (nothing is cancelled) and apply it again to get a new number";
    throw new Waiting(message, Reason.NumberLost, this.options.resyncMs);
  }

  /**
   * Whether the `main` subscription is active comes free with every list of the workspace's numbers; its dates and
   * price take one GET per number. That GET is made once, and again only when the state flips. A number seen for
   * the first time gets the state now and the details on a later reconcile (the returned delay), so that adopting
   * thousands of numbers is not held up behind thousands of GETs.
   */
  private async syncSubscription(
    number: LongCodeNumber,
    external: NumberExternal,
    status: PhoneNumberStatus,
  ): Promise<number | undefined> {
    const active = !subscriptionEnded(number);
    const known = status.subscription;
    const agrees = known?.status !== undefined && (known.status === "active") === active;
    if (agrees && known.startAt && status.monthlyPrice) return undefined;
    if (!known) {
      status.subscription = { name: "main", status: active ? "active" : "inactive" };
      return 5000 + Math.random() * Math.min(30_000, this.options.resyncMs);
    }
    const subscription = await external.observeSubscription(number);
    status.subscription = {
      name: subscription.name,
      status: subscription.status,
      startAt: subscription.subscription?.startAt,
      endAt: subscription.subscription?.endAt,
      canceledAt: subscription.subscription?.canceledAt,
    };
    if (subscription.price) status.monthlyPrice = subscription.price;
    return undefined;
  }

  /**
   * Deletion acts only on the record bound to this object's uid. Retain, ObserveOnly, or a namespace no longer allowed:
   * the record is Released (still paid for, visible to the platform team). Delete: `main` is cancelled (already
   * cancelled counts as done) and the record removed. `done` only once that is so; anything else keeps the finalizer.
   */
  private async cleanup(pn: PhoneNumber, status: PhoneNumberStatus, log: Logger): Promise<CleanupOutcome<PhoneNumber>> {
    const deleting = (message: string): CleanupOutcome<PhoneNumber> => ({
      done: true,
      ready: notReady(Reason.Deleting, message),
    });
    let record = await this.options.records.findHeld(pn);
    const resolved = this.options.connections.connect(pn.spec.workspaceRef.name);
    // An object of the previous release deleted before its first reconcile here: its record first, if it may have one.
    if (!record && resolved.ok && this.options.admission.check(pn).ok)
      record = await this.migratedRecord(pn, this.external(resolved.value), log);
    if (!record) return deleting("held no number: nothing to release");
    const policy = effectiveDeletionPolicy(pn, resolved.ok ? resolved.value.workspace : undefined);
    status.deletionPolicy = policy;
    if (record.status?.phase === Phase.Lost) {
      await this.options.records.remove(record);
      return deleting(`${record.spec.numberString} had left the workspace: nothing to cancel`);
    }
    const keep = this.keepReason(pn, policy);
    if (keep) {
      await this.release(pn, record, keep, log);
      return deleting(`${record.spec.numberString} kept (${keep})`);
    }
    if (!resolved.ok) {
      throw new TransientError(
        `cannot cancel ${record.spec.numberString}: ${resolved.message}. To let go without cancelling, ` +
          "set spec.deletionPolicy: Retain",
        resolved.reason,
      );
    }
    await this.cancel(pn, record, this.external(resolved.value), status, log);
    return deleting(`${record.spec.numberString} cancelled`);
  }

  /** The record the previous release's hints give this object, if any; a copy's refused claim means none. */
  private async migratedRecord(
    pn: PhoneNumber,
    external: NumberExternal,
    log: Logger,
  ): Promise<BirdNumber | undefined> {
    try {
      return (await this.options.claims.migrate(pn, external, log))?.record;
    } catch (error) {
      if (error instanceof PermanentError) return undefined;
      throw error;
    }
  }

  /** Asked before each Bird write on the number leaves: the record still binds `pn`, and this replica may act. */
  private guard(pn: PhoneNumber, record: BirdNumber): SendGuard {
    return holderGuard(this.options.records, pn, record.metadata?.name ?? "", this.options.mayAct);
  }

  /** Why deletion keeps the number instead of cancelling it; undefined when it cancels. */
  private keepReason(pn: PhoneNumber, policy: DeletionPolicy): string | undefined {
    return deletionKeepReason(pn, policy, () => this.options.admission.namespaceCheck(pn));
  }

  private async release(pn: PhoneNumber, record: BirdNumber, why: string, log: Logger): Promise<void> {
    const message =
      `released by ${objectKey(pn)} (${why}): still in the workspace and paid for; only namespace ` +
      `"${pn.metadata?.namespace}" may take it again, or the platform team after clearing spec.claimRef`;
    await this.options.records.update({
      ...record,
      status: { ...record.status, phase: Phase.Released, releasedAt: rfc3339(this.now()), message },
    });
    log.info({ record: record.metadata?.name, numberString: record.spec.numberString, why }, "Released number");
    this.options.events.record(
      pn,
      "Normal",
      EventReason.Retained,
      `${why}: ${record.spec.numberString} stays in the Bird workspace ` +
        `(kubectl get birdnumber ${record.metadata?.name})`,
    );
    this.options.events.record(record, "Normal", EventReason.Released, message);
  }

  /** Cancels `main` of the number the record binds (a Purchasing record is resolved first), then removes the record. */
  private async cancel(
    pn: PhoneNumber,
    record: BirdNumber,
    external: NumberExternal,
    status: PhoneNumberStatus,
    log: Logger,
  ): Promise<void> {
    const resolved = await this.resolvedForCancel(pn, record, external, log);
    if (!resolved) return;
    ({ record } = resolved);
    const { numberId } = resolved;
    const endpointId = record.status?.endpointId ?? numberId;
    const cancelled = endpointId
      ? await external.cancel({ id: numberId, endpointId }, this.guard(pn, record))
      : undefined;
    if (cancelled) {
      status.subscription = {
        name: cancelled.name,
        status: cancelled.status,
        canceledAt: cancelled.subscription?.canceledAt,
      };
      this.options.metrics?.cancellations.inc({ workspace: pn.spec.workspaceRef.name, kind: PHONE_NUMBER_KIND });
    }
    await this.options.records.remove(record);
    const message =
      `Cancelled the main subscription of ${record.spec.numberString}: ` +
      "Bird releases the number at the end of the period";
    log.info({ record: record.metadata?.name, numberString: record.spec.numberString, numberId }, "Cancelled number");
    this.options.events.record(pn, "Normal", EventReason.SubscriptionCancelled, message);
    this.options.events.record(
      record,
      "Normal",
      EventReason.SubscriptionCancelled,
      `${message} (deleted ${objectKey(pn)})`,
    );
  }

  /** The record to cancel and its number id; a Purchasing one is resolved first (undefined: nothing was bought). */
  private async resolvedForCancel(
    pn: PhoneNumber,
    record: BirdNumber,
    external: NumberExternal,
    log: Logger,
  ): Promise<{ record: BirdNumber; numberId: string | undefined } | undefined> {
    if (record.status?.phase !== Phase.Purchasing) return { record, numberId: record.status?.numberId };
    const held = await this.options.claims.resolvePurchase(pn, record, external, log).catch((error: unknown) => {
      if (error instanceof Waiting)
        throw new TransientError(
          `waiting to learn whether the purchase of ${record.spec.numberString} reached Bird before deleting`,
          Reason.PurchasePending,
        );
      throw error;
    });
    if (!held) return undefined;
    return { record: held.record, numberId: held.number?.id ?? held.record.status?.numberId };
  }

  private external(connection: WorkspaceConnection): NumberExternal {
    return (this.options.external ?? birdNumbers)(connection);
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }
}

/**
 * What status says about a number, for an object that holds none. `boundTo` and `numberString` stay: they remember
 * which number the object held, so a record deleted by hand is claimed again (never replaced by a purchase).
 */
function clearNumberStatus(status: PhoneNumberStatus): void {
  for (const field of [
    "numberId",
    "endpointId",
    "countryCode",
    "type",
    "provisioningStatus",
    "issues",
    "capabilities",
    "monthlyPrice",
    "monthlyPriceText",
    "destinations",
    "subscription",
    "deprovisionAt",
    "pinHint",
  ] as const) {
    delete status[field];
  }
}

/** The price as kubectl shows it ("3.50 EUR"), from whatever this reconcile left in status.monthlyPrice. */
function describePrice(status: PhoneNumberStatus): void {
  if (status.monthlyPrice) status.monthlyPriceText = formatMoney(status.monthlyPrice);
  else delete status.monthlyPriceText;
}

/** Ready: provisioned, no issue from Bird, main subscription active, every desired destination active. */
function readiness(pn: PhoneNumber, number: LongCodeNumber, status: PhoneNumberStatus): ConditionUpdate {
  const issues = status.issues ?? [];
  if (subscriptionEnded(number) || (status.subscription?.status && status.subscription.status !== "active")) {
    return notReady(
      Reason.SubscriptionInactive,
      `the main subscription of ${number.numberString} ` +
        `is not active${number.deprovisionAt ? `; Bird releases the number at ${number.deprovisionAt}` : ""}; ` +
        "Bird's API cannot restart it",
    );
  }
  if (issues.length)
    return notReady(Reason.BirdIssues, `Bird reports issues for ${number.numberString}: ${issues.join(", ")}`);
  const pending = (status.destinations ?? []).filter((d) => d.status !== "active");
  if (pn.spec.managementPolicy !== "ObserveOnly" && pending.length) {
    return notReady(
      Reason.DestinationsPending,
      `destinations not active yet: ${pending.map((d) => `${d.capability}/${d.countryCode}=${d.status}`).join(", ")}`,
    );
  }
  return {
    type: READY,
    status: "True",
    reason: Reason.Available,
    message:
      `${number.numberString} is provisioned` + (pn.spec.managementPolicy === "ObserveOnly" ? " (observed only)" : ""),
  };
}

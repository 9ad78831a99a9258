import type { PhoneNumber, PhoneNumberDestinationStatus, PhoneNumberStatus } from "../../api/v1alpha1/index.js";
import { EventReason, FINALIZER, Reason, READY } from "../../api/v1alpha1/conditions.js";
import { isBirdApiError } from "../../bird/errors.js";
import { formatMoney } from "../../bird/money.js";
import type { LongCodeNumber, Money, NumberStockItem } from "../../bird/types.js";
import type { Logger } from "../../log.js";
import type { ReconcileContext, ReconcileResult } from "../../runtime/controller.js";
import { PermanentError, TransientError, Waiting } from "../../runtime/errors.js";
import { addFinalizer } from "../../runtime/finalizer.js";
import { objectKey } from "../../runtime/informer.js";
import { rfc3339, type ConditionUpdate } from "../../runtime/status.js";
import { notReady, reconcileManaged, type StepOutcome, type ManagedReconcilerOptions } from "../reconcile-step.js";
import { connectAllowed, countryViolation, priceViolation, spendViolation } from "../guardrails.js";
import type { WorkspaceConnection } from "../workspace/connections.js";
import {
  chunk,
  desiredDestinations,
  destinationRows,
  isProvisioned,
  observedStatus,
  planDestinations,
  stockFilter,
  stockItemMatches,
  subscriptionInactive,
} from "./desired.js";
import { Ownership } from "./ownership.js";
import { clearIntent, readIntent, recordedNumberId, recordIntent, recordNumberId } from "./purchase.js";

export interface PhoneNumberReconcilerOptions extends ManagedReconcilerOptions<PhoneNumber> {
  purchaseGraceMs: number;
  /** How often a number that Bird is still provisioning is re-read. */
  provisioningPollMs?: number;
  /** Puts a key back on the queue now: a number it waits for was seen provisioned. */
  wake?: (key: string) => void;
  /** Asked right before a buy: false when this replica can no longer be sure it leads (see Manager.mayAct). */
  mayAct?: () => boolean;
  now?: () => Date;
}

/** A purchase made by this process, until its resource's status shows it. */
interface Purchase {
  key: string;
  workspace: string;
  price?: Money;
  /** The Purchased event, until it is recorded. */
  message?: string;
}

/** With a poller to wake it, a provisioning number's own requeue comes this many polls later, in case. */
const PROVISIONING_FALLBACK_POLLS = 5;

/** How long a new object's first status write may wait for its number to be provisioned (see `apply`). */
const DEFER_FIRST_STATUS_MS = 10_000;

/** Bird allows 100 countries per activate call and 25 per deactivate call. */
const ACTIVATE_BATCH = 100;
const DEACTIVATE_BATCH = 25;

/**
 * Reconciles one PhoneNumber: resolve the workspace, observe the number (inventory first), buy crash-safely when
 * there is none, keep destinations in step, and write status once. Level-based: only the key is trusted.
 */
export class PhoneNumberReconciler {
  private readonly ownership: Ownership;
  /** Purchases whose status write and event wait for the next reconcile of the number (see `apply`). */
  private readonly purchases = new Map<string, Purchase>();

  constructor(private readonly o: PhoneNumberReconcilerOptions) {
    this.ownership = new Ownership(o.informer);
  }

  readonly reconcile = (key: string, context: ReconcileContext): Promise<ReconcileResult> =>
    reconcileManaged({ client: this.o.client, events: this.o.events, informer: this.o.informer, log: context.log, now: () => this.now() }, key, {
      observe: (pn, status) => this.observe(pn, status),
      apply: (pn, status) => this.apply(pn, status, context.log),
      cleanup: (pn, status) => this.cleanup(pn, status),
      applyAddsFinalizer: true,
    });

  private async apply(initial: PhoneNumber, status: PhoneNumberStatus, log: Logger): Promise<StepOutcome<PhoneNumber>> {
    let pn = initial;
    const connection = await this.workspaceFor(pn);
    let number = await this.observeNumber(pn, connection);
    let justBought = false;
    if (!number) {
      const bought = await this.obtain(pn, connection, status, log);
      pn = bought.pn;
      number = bought.number;
      justBought = bought.purchased;
    }
    // Everything below may write to Bird or claim the number in status: the finalizer goes first (a purchase
    // brought it along with the intent).
    pn = await addFinalizer(this.o.client, FINALIZER, pn);
    Object.assign(status, observedStatus(number), { purchase: undefined });
    status.pinHint = pn.spec.numberString ? undefined : `pin spec.numberString: "${number.numberString}" in Git so a rebuilt cluster adopts this number instead of buying another`;
    if (!isProvisioned(number)) {
      const pollMs = this.o.provisioningPollMs ?? 1000;
      if (!justBought) {
        number = await connection.inventory.pollNumber(number.id, pollMs);
        Object.assign(status, observedStatus(number));
      }
      if (!isProvisioned(number)) {
        // The workspace's poller wakes the key when Bird shows the number provisioned; the requeue is the fallback.
        const { wake } = this.o;
        const key = objectKey(pn);
        if (wake) connection.inventory.awaitProvisioned(number.id, pollMs, () => wake(key));
        const requeueAfterMs = wake ? PROVISIONING_FALLBACK_POLLS * pollMs : pollMs;
        // A new object bought moments ago: its first status write (and the Purchased event) wait for the poll that
        // sees the number provisioned, for up to DEFER_FIRST_STATUS_MS. One that shows an older condition (say
        // QuotaExceeded), or whose number takes longer, gets the news now.
        const fresh = !initial.status?.conditions?.length && this.now().getTime() - Date.parse(number.createdAt) < DEFER_FIRST_STATUS_MS;
        if (fresh && this.purchases.get(number.id)?.message) return { object: pn, ready: provisioning(number), requeueAfterMs, deferStatusWrite: true };
        const purchase = this.takePurchase(number.id, status);
        if (purchase) this.o.events.record(pn, "Normal", EventReason.Purchased, purchase);
        return { object: pn, ready: provisioning(number), requeueAfterMs };
      }
    }
    const purchase = this.takePurchase(number.id, status);
    const detailsLater = await this.syncSubscription(number, connection, status);
    if (pn.spec.managementPolicy !== "ObserveOnly") number = await this.syncDestinations(pn, number, connection, status, purchase);
    else if (purchase) this.o.events.record(pn, "Normal", EventReason.Purchased, purchase);
    return { object: pn, ready: readiness(pn, number, status), requeueAfterMs: detailsLater };
  }

  /** A purchase made here whose event is not out yet: its price goes to status, its message is returned (once). */
  private takePurchase(numberId: string, status: PhoneNumberStatus): string | undefined {
    const purchase = this.purchases.get(numberId);
    if (!purchase) return undefined;
    if (purchase.price) status.monthlyPrice ??= purchase.price;
    const { message } = purchase;
    purchase.message = undefined;
    return message;
  }

  /**
   * Prices of numbers bought here that no cached status shows yet (a new object's first status write waits for its
   * number to be provisioned): the spend policy counts them, as it counts the statuses. A purchase is forgotten once
   * the cache shows it in its resource's status, or the resource is gone.
   */
  pendingSpend(workspaceName: string): Money[] {
    this.prunePurchases();
    const prices: Money[] = [];
    for (const [id, purchase] of this.purchases) {
      if (purchase.workspace === workspaceName && purchase.price && !this.shownInStatus(id, purchase)) prices.push(purchase.price);
    }
    return prices;
  }

  private prunePurchases(): void {
    for (const [id, purchase] of this.purchases) {
      if (!this.o.informer.get(purchase.key) || (this.shownInStatus(id, purchase) && !purchase.message)) this.purchases.delete(id);
    }
  }

  private shownInStatus(numberId: string, purchase: Purchase): boolean {
    const status = this.o.informer.get(purchase.key)?.status;
    return status?.numberId === numberId && (status.monthlyPrice !== undefined || !purchase.price);
  }

  /** ObserveOnly: report what Bird has, write nothing to Bird. */
  private async observe(pn: PhoneNumber, status: PhoneNumberStatus): Promise<{ ready: ConditionUpdate; requeueAfterMs?: number }> {
    const connection = await this.workspaceFor(pn);
    const number = await this.observeNumber(pn, connection);
    if (!number) {
      throw new Waiting(`ObserveOnly: ${pn.spec.numberString ?? "the number"} is not in the workspace; nothing is bought in this mode`, Reason.NumberUnavailable, this.o.resyncMs);
    }
    Object.assign(status, observedStatus(number));
    const detailsLater = await this.syncSubscription(number, connection, status);
    status.destinations = destinationRows(desiredDestinations(pn.spec), (capability) => (number.endpoint?.capabilities?.find((c) => c.name === capability)?.outbound?.destinationStatuses?.active ? "unknown" : "inactive"));
    return { ready: readiness(pn, number, status), requeueAfterMs: detailsLater };
  }

  private workspaceFor(pn: PhoneNumber): Promise<WorkspaceConnection> {
    return connectAllowed(this.o.connections, pn, this.o);
  }

  /** The number this resource owns: by recorded id, else (adoption) the exact number it names. */
  private async observeNumber(pn: PhoneNumber, connection: WorkspaceConnection): Promise<LongCodeNumber | undefined> {
    const id = recordedNumberId(pn);
    if (id) {
      const number = (await connection.inventory.number(id)) ?? (await this.reloadOrLost(id, connection, pn));
      return number;
    }
    if (!pn.spec.numberString) return undefined;
    const number = await connection.inventory.numberByString(pn.spec.numberString);
    if (number && this.ownership.numberOwnedByOther(number.id, pn)) {
      throw new PermanentError(`${number.numberString} already belongs to another PhoneNumber in this cluster; two resources cannot own one number`, Reason.NumberConflict);
    }
    return number;
  }

  private async reloadOrLost(id: string, connection: WorkspaceConnection, pn: PhoneNumber): Promise<LongCodeNumber> {
    try {
      return await connection.inventory.reloadNumber(id);
    } catch (error) {
      // A RangeError is an id no Bird number can have (e.g. a hand-edited annotation ".."): lost just the same.
      if ((isBirdApiError(error) && error.kind === "not-found") || error instanceof RangeError) {
        const message = `number ${pn.status?.numberString ?? id} is no longer in the workspace; nothing was bought to replace it. Delete this resource, or remove the annotation numbers.birdoperator.dev/number-id to buy a new number`;
        throw new PermanentError(message, Reason.NumberLost);
      }
      throw error;
    }
  }

  /**
   * No number yet: resolve a recorded intent first, then adopt or buy. An intent is resolved on a fresh read, never
   * on the cache: a cache that still shows an intent already cleared could otherwise resolve it to a number another
   * resource bought meanwhile. Without an intent the cache is enough: the intent update carries its
   * resourceVersion, so if the object changed meanwhile (an intent or a number recorded), the API server answers
   * 409 and nothing is bought.
   */
  private async obtain(cached: PhoneNumber, connection: WorkspaceConnection, status: PhoneNumberStatus, log: Logger): Promise<{ pn: PhoneNumber; number: LongCodeNumber; purchased: boolean }> {
    let pn = cached;
    // A purchase this process made for the object that the cache does not show yet: the cache is behind (a watch
    // that is reconnecting), so read the object itself rather than fail on a stale resourceVersion again and again.
    const boughtHere = [...this.purchases.values()].some((p) => p.key === objectKey(cached));
    if (readIntent(cached) || boughtHere) {
      pn = await this.o.client.get(cached.metadata?.namespace, cached.metadata?.name ?? "");
      const recorded = await this.observeNumber(pn, connection);
      if (recorded) return { pn, number: recorded, purchased: false };
    }
    const intent = readIntent(pn);
    if (intent) {
      const found = await this.lookup(connection, intent.numberString);
      if (found && !this.ownership.numberOwnedByOther(found.id, pn)) {
        const recorded = await recordNumberId(this.o.client, pn, found.id);
        connection.inventory.putNumber(found);
        this.o.events.record(pn, "Normal", EventReason.Adopted, `Resolved the interrupted purchase of ${found.numberString}: the number is in the workspace and now belongs to this resource`);
        return { pn: recorded, number: found, purchased: false };
      }
      const age = this.now().getTime() - Date.parse(intent.startedAt);
      if (age < this.o.purchaseGraceMs) {
        status.purchase = intent;
        throw new Waiting(`waiting for Bird to show ${intent.numberString} (purchase started ${intent.startedAt})`, Reason.PurchasePending, Math.min(5000, this.o.purchaseGraceMs - age));
      }
      pn = await clearIntent(this.o.client, pn);
      this.o.events.record(pn, "Normal", EventReason.PurchaseIntentCleared, `The purchase of ${intent.numberString} never reached Bird; trying again`);
    }
    return { ...(await this.purchase(pn, connection, log)), purchased: true };
  }

  private async lookup(connection: WorkspaceConnection, numberString: string): Promise<LongCodeNumber | undefined> {
    const page = await connection.client.listNumbers({ numberString }, { limit: 10 });
    return page.results.find((n) => n.numberString === numberString);
  }

  /** Guardrails, intent, buy, record: in that order, so that a crash anywhere leaves no purchase or a findable one. */
  private async purchase(pn: PhoneNumber, connection: WorkspaceConnection, log: Logger): Promise<{ pn: PhoneNumber; number: LongCodeNumber }> {
    const owner = `${pn.metadata?.namespace}/${pn.metadata?.name}`;
    const item = await this.pickStockItem(pn, connection);
    const activeNumbers = await this.activeNumberCount(connection);
    this.checkQuota(connection, activeNumbers, item);
    connection.ledger.reserve(owner, item.id, item.monthlyPrice);
    try {
      const intent = { stockItemId: item.id, numberString: item.numberString, startedAt: rfc3339(this.now()) };
      const withIntent = await recordIntent(this.o.client, pn, intent);
      // A replica frozen since it recorded the intent may have been replaced meanwhile: it must not buy. Checked right
      // before the buy call goes out, after any wait for a place in one.
      const mayStillBuy = (): Error | undefined =>
        this.o.mayAct && !this.o.mayAct()
          ? new TransientError(`not buying ${item.numberString}: this replica's leader lease is no longer fresh; the leader resolves the recorded intent`, Reason.PurchasePending)
          : undefined;
      let number: LongCodeNumber | undefined;
      try {
        // Batched with the workspace's other purchases in flight: each has recorded its own intent already.
        number = await connection.buyer.buy(item, mayStillBuy);
      } catch (error) {
        if (isBirdApiError(error) && !error.ambiguous) await clearIntent(this.o.client, withIntent).catch(() => undefined);
        throw purchaseError(error, item);
      }
      if (!number) throw new TransientError(`Bird answered the purchase of ${item.numberString} without a number`, Reason.PurchasePending);
      connection.inventory.putNumber(number);
      // Counted by the inventory now: in the same step the ledger stops counting it, or quota would count it twice.
      connection.ledger.bought(owner);
      log.info({ numberString: number.numberString, numberId: number.id }, "Purchased number");
      const recorded = await recordNumberId(this.o.client, withIntent, number.id);
      const pin = pn.spec.numberString ? "" : `; pin spec.numberString: "${number.numberString}" in Git so a rebuilt cluster adopts it instead of buying again`;
      this.prunePurchases();
      this.purchases.set(number.id, { key: objectKey(pn), workspace: pn.spec.workspaceRef.name, price: item.monthlyPrice, message: `Bought ${number.numberString} for ${formatMoney(item.monthlyPrice)} a month${pin}` });
      return { pn: recorded, number };
    } finally {
      connection.ledger.release(owner);
    }
  }

  /**
   * A stock item for this spec: from the workspace's shared stock pool when one fits, else from a full search that
   * also finds out why nothing fits (policy, price, or no stock).
   */
  private async pickStockItem(pn: PhoneNumber, connection: WorkspaceConnection): Promise<NumberStockItem> {
    const { workspace } = connection;
    const filter = stockFilter(pn.spec);
    // An item another resource recorded an intent for may be the target of its interrupted purchase: never take it.
    const promised = (item: NumberStockItem): boolean => this.ownership.itemPromisedToOther(item.id, pn);
    const pooled = await connection.stockPool.take(filter, (item) => !promised(item) && this.affordable(pn, connection, item));
    if (pooled) return pooled;
    const country = filter.countryCodes?.[0];
    if (country) {
      const violation = countryViolation(workspace, country);
      if (violation) throw new PermanentError(violation, Reason.PolicyViolation);
    }
    let tooExpensive: string | undefined;
    for await (const item of connection.client.stockItems(filter, { limit: 99, max: 500 })) {
      if (!stockItemMatches(pn.spec, item) || connection.ledger.isReserved(item.id) || promised(item)) continue;
      const violation = countryViolation(workspace, item.countryCode);
      if (violation) throw new PermanentError(violation, Reason.PolicyViolation);
      const price =
        priceViolation(item.monthlyPrice, pn.spec.maxMonthlyPrice, "spec.maxMonthlyPrice") ??
        priceViolation(item.monthlyPrice, workspace.spec.policy?.maxPricePerNumber, `BirdWorkspace "${workspace.metadata?.name}" spec.policy.maxPricePerNumber`);
      if (price) {
        tooExpensive ??= `${item.numberString}: ${price}`;
        continue;
      }
      return item;
    }
    if (tooExpensive) throw new PermanentError(`no number in stock within the price limit (cheapest match ${tooExpensive})`, Reason.PriceAboveLimit);
    const what = pn.spec.numberString ? `${pn.spec.numberString} is not in the workspace and not in stock` : `no number in stock matches ${JSON.stringify(filter)}`;
    throw new Waiting(`${what}; checking again in ${Math.round(this.o.resyncMs / 1000)} s`, Reason.NumberUnavailable, this.o.resyncMs);
  }

  /**
   * The workspace's numbers with an active subscription, from the inventory: a purchase lands there synchronously
   * with its reservation's release, so the count never misses a number between the two (the informer cache could).
   */
  private affordable(pn: PhoneNumber, connection: WorkspaceConnection, item: NumberStockItem): boolean {
    const { workspace, ledger } = connection;
    return (
      stockItemMatches(pn.spec, item) &&
      !ledger.isReserved(item.id) &&
      !countryViolation(workspace, item.countryCode) &&
      !priceViolation(item.monthlyPrice, pn.spec.maxMonthlyPrice, "") &&
      !priceViolation(item.monthlyPrice, workspace.spec.policy?.maxPricePerNumber, "")
    );
  }

  private async activeNumberCount(connection: WorkspaceConnection): Promise<number> {
    if (connection.workspace.spec.policy?.maxNumbers === undefined) return 0;
    return connection.inventory.countNumbers((number) => !subscriptionInactive(number));
  }

  /** Synchronous from the count to the reservation: no other reconcile can slip between check and reserve. */
  private checkQuota(connection: WorkspaceConnection, activeNumbers: number, item: NumberStockItem): void {
    const { workspace, ledger } = connection;
    const policy = workspace.spec.policy;
    const name = workspace.metadata?.name ?? "";
    if (policy?.maxNumbers !== undefined && activeNumbers + ledger.size >= policy.maxNumbers) {
      throw new Waiting(`BirdWorkspace "${name}" allows ${policy.maxNumbers} numbers and ${activeNumbers + ledger.size} are owned or being bought; ask the platform team to raise spec.policy.maxNumbers`, Reason.QuotaExceeded, this.o.resyncMs);
    }
    if (policy?.maxMonthlySpend) {
      const violation = spendViolation([...this.o.committedSpend(name), ...ledger.prices(), item.monthlyPrice], policy.maxMonthlySpend, `BirdWorkspace "${name}" spec.policy.maxMonthlySpend`);
      if (violation) {
        const message = violation.total ? `buying ${item.numberString} would bring the monthly spend to ${violation.message}` : `not buying ${item.numberString}: ${violation.message}`;
        throw new Waiting(message, Reason.QuotaExceeded, this.o.resyncMs);
      }
    }
  }

  /**
   * Whether the `main` subscription is active comes free with every list of the workspace's numbers; its dates and
   * price take one GET per number. That GET is made once, and again only when the state flips. A number seen for
   * the first time gets the state now and the details on a later reconcile (the returned delay), so that adopting
   * thousands of numbers is not held up behind thousands of GETs.
   */
  private async syncSubscription(number: LongCodeNumber, connection: WorkspaceConnection, status: PhoneNumberStatus): Promise<number | undefined> {
    const active = !subscriptionInactive(number);
    const known = status.subscription;
    const agrees = known?.status !== undefined && (known.status === "active") === active;
    if (agrees && known.startAt && status.monthlyPrice) return undefined;
    if (!known) {
      status.subscription = { name: "main", status: active ? "active" : "inactive" };
      return 5000 + Math.random() * Math.min(30_000, this.o.resyncMs);
    }
    const subscription = await connection.client.getSubscription(number.endpointId, "main", { background: true });
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
   * Activates and deactivates what the spec asks. A purchase whose event is still due (`purchase`) is told in one
   * Purchased event together with the first change, not in two; alone if there is no change or the change fails.
   */
  private async syncDestinations(pn: PhoneNumber, number: LongCodeNumber, connection: WorkspaceConnection, status: PhoneNumberStatus, purchase?: string): Promise<LongCodeNumber> {
    let untold = purchase;
    const tell = (reason: string, message: string): void => {
      if (untold) this.o.events.record(pn, "Normal", EventReason.Purchased, `${untold}; ${message[0]?.toLowerCase()}${message.slice(1)}`);
      else this.o.events.record(pn, "Normal", reason, message);
      untold = undefined;
    };
    try {
      return await this.changeDestinations(pn, number, connection, status, tell);
    } finally {
      if (untold) this.o.events.record(pn, "Normal", EventReason.Purchased, untold);
    }
  }

  private async changeDestinations(pn: PhoneNumber, number: LongCodeNumber, connection: WorkspaceConnection, status: PhoneNumberStatus, tell: (reason: string, message: string) => void): Promise<LongCodeNumber> {
    const recorded = status.destinations ?? [];
    const plan = planDestinations(pn.spec, recorded, number, connection.inventory.isCurrent(number.id));
    if (plan.activate.size === 0 && plan.deactivate.size === 0) return number;
    const state = new Map(recorded.map((r) => [`${r.capability}/${r.countryCode}`, r.status]));
    for (const [capability, countries] of plan.activate) {
      for (const batch of chunk(countries, ACTIVATE_BATCH)) {
        const result = await connection.client.activateDestinations(number.endpointId, capability, batch).catch((error: unknown) => {
          throw destinationError(error, number, capability, batch);
        });
        for (const country of batch) {
          const row = result.results?.find((d) => d.countryCode === country);
          state.set(`${capability}/${country}`, row?.capabilities?.find((c) => c.name === capability)?.status ?? "active");
        }
        tell(EventReason.DestinationsActivated, `Activated ${capability} destinations ${batch.join(", ")} on ${number.numberString}`);
      }
    }
    for (const [capability, countries] of plan.deactivate) {
      for (const batch of chunk(countries, DEACTIVATE_BATCH)) {
        await connection.client.deactivateDestinations(number.endpointId, capability, batch);
        for (const country of batch) state.delete(`${capability}/${country}`);
        tell(EventReason.DestinationsDeactivated, `Deactivated ${capability} destinations ${batch.join(", ")} on ${number.numberString}`);
      }
    }
    status.destinations = destinationRows(desiredDestinations(pn.spec), (capability, country) => state.get(`${capability}/${country}`));
    // No re-read: the next list refresh brings Bird's counts, and drift is not judged on counts older than our write.
    connection.inventory.markChanged(number.id);
    return number;
  }

  /** Deletion: Retain lets go; Delete cancels `main` (already cancelled counts as done) before the finalizer goes. */
  private async cleanup(pn: PhoneNumber, status: PhoneNumberStatus): Promise<{ ready: ConditionUpdate }> {
    const deleting = notReady(Reason.Deleting, "deleting");
    // A purchase whose event never went out (deleted while Bird provisioned) is forgotten with its resource.
    const bought = recordedNumberId(pn);
    if (bought) this.purchases.delete(bought);
    if (pn.spec.managementPolicy === "ObserveOnly") return { ready: deleting };
    if (pn.spec.deletionPolicy === "Retain") {
      const what = pn.status?.numberString ?? "the number";
      this.o.events.record(pn, "Normal", EventReason.Retained, `deletionPolicy Retain: ${what} stays in the Bird workspace`);
      return { ready: deleting };
    }
    let id = recordedNumberId(pn);
    const intent = readIntent(pn);
    // Nothing bought and no purchase under way: nothing to release, so no workspace needed (it may never have existed).
    if (!id && !intent) return { ready: deleting };
    const resolved = this.o.connections.connect(pn.spec.workspaceRef.name);
    if (!resolved.ok) throw new TransientError(`cannot release the number: ${resolved.message}`, resolved.reason);
    const connection = resolved.value;
    if (!id && intent) {
      const found = await this.lookup(connection, intent.numberString);
      if (found) id = found.id;
      else if (this.now().getTime() - Date.parse(intent.startedAt) < this.o.purchaseGraceMs) {
        throw new TransientError(`waiting to learn whether the purchase of ${intent.numberString} reached Bird before deleting`, Reason.PurchasePending);
      }
    }
    if (!id) return { ready: deleting };
    const number = (await connection.inventory.number(id)) ?? { endpointId: id };
    try {
      const cancelled = await connection.client.cancelSubscription(number.endpointId, "main");
      status.subscription = { name: cancelled.name, status: cancelled.status, canceledAt: cancelled.subscription?.canceledAt };
    } catch (error) {
      // Not found, or an id no Bird endpoint can have (RangeError): there is no subscription to cancel.
      if (!((isBirdApiError(error) && error.kind === "not-found") || error instanceof RangeError)) throw error;
    }
    connection.inventory.forgetNumber(id);
    this.o.events.record(pn, "Normal", EventReason.SubscriptionCancelled, `Cancelled the main subscription of ${pn.status?.numberString ?? id}: Bird releases the number at the end of the period`);
    return { ready: deleting };
  }

  private now(): Date {
    return this.o.now?.() ?? new Date();
  }
}

function provisioning(number: LongCodeNumber): ConditionUpdate {
  return notReady(Reason.Provisioning, `Bird is provisioning ${number.numberString} (${number.endpoint?.provisioningStatus ?? "unknown"})`);
}

/** Ready: provisioned, no issue from Bird, main subscription active, every desired destination active. */
function readiness(pn: PhoneNumber, number: LongCodeNumber, status: PhoneNumberStatus): ConditionUpdate {
  const issues = number.endpoint?.issues ?? [];
  if (subscriptionInactive(number) || (status.subscription?.status && status.subscription.status !== "active")) {
    return notReady(Reason.SubscriptionInactive, `the main subscription of ${number.numberString} is not active${number.deprovisionAt ? `; Bird releases the number at ${number.deprovisionAt}` : ""}; Bird's API cannot restart it`);
  }
  if (issues.length) return notReady(Reason.BirdIssues, `Bird reports issues for ${number.numberString}: ${issues.join(", ")}`);
  const pending = (status.destinations ?? []).filter((d: PhoneNumberDestinationStatus) => d.status !== "active");
  if (pn.spec.managementPolicy !== "ObserveOnly" && pending.length) {
    return notReady(Reason.DestinationsPending, `destinations not active yet: ${pending.map((d) => `${d.capability}/${d.countryCode}=${d.status}`).join(", ")}`);
  }
  return { type: READY, status: "True", reason: Reason.Available, message: `${number.numberString} is provisioned${pn.spec.managementPolicy === "ObserveOnly" ? " (observed only)" : ""}` };
}

/** Bird's refusal to serve a destination becomes a condition that says which entry of the spec to change. */
function destinationError(error: unknown, number: LongCodeNumber, capability: string, countries: readonly string[]): unknown {
  if (!isBirdApiError(error)) return error;
  if (error.code === "capability-is-not-supported") {
    return new PermanentError(
      `${number.numberString} has no outbound ${capability} capability, so Bird cannot activate ${capability} destinations on it: remove the ${capability} entry from spec.destinations (spec.capabilities decides what a number bought next can do)`,
      Reason.DestinationUnavailable,
      { cause: error },
    );
  }
  if (error.code === "destination-not-available") {
    const named = error.details?.countryCodes;
    const refused = Array.isArray(named) && named.length > 0 ? named.map(String) : countries;
    return new PermanentError(
      `Bird cannot activate ${capability} destinations ${refused.join(", ")} on ${number.numberString}${error.birdMessage ? ` (${error.birdMessage})` : ""}: remove them from spec.destinations`,
      Reason.DestinationUnavailable,
      { cause: error },
    );
  }
  return error;
}

/** Bird's refusals become conditions with the reason users look up in the README. */
function purchaseError(error: unknown, item: NumberStockItem): Error {
  if (!isBirdApiError(error)) return error instanceof Error ? error : new Error(String(error));
  if (error.ambiguous) {
    return new TransientError(`the purchase of ${item.numberString} may or may not have reached Bird (${error.message}); the next reconcile looks it up before buying anything`, Reason.PurchasePending, { cause: error });
  }
  if (error.code === "stock-item-unavailable") {
    return new TransientError(`${item.numberString} was sold before we could buy it; picking another`, Reason.CannotPurchase, { cause: error });
  }
  if (error.kind === "transient") return new TransientError(`cannot buy ${item.numberString} now: ${error.message}`, Reason.CannotPurchase, { cause: error });
  return new PermanentError(`Bird refused the purchase of ${item.numberString}: ${error.message}`, Reason.CannotPurchase, { cause: error });
}

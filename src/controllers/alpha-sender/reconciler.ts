import type { AlphaSender, AlphaSenderStatus } from "../../api/v1alpha1/index.js";
import { EventReason, Reason } from "../../api/v1alpha1/conditions.js";
import { isBirdApiError } from "../../bird/errors.js";
import type { AlphaNumber, Money } from "../../bird/types.js";
import type { ReconcileContext, ReconcileResult } from "../../runtime/controller.js";
import { TransientError, Waiting } from "../../runtime/errors.js";
import { objectKey } from "../../runtime/informer.js";
import { connectAllowed } from "../guardrails.js";
import { chunk } from "../phone-number/desired.js";
import { notReady, reconcileManaged, type StepOutcome, type ManagedReconcilerOptions } from "../reconcile-step.js";
import type { WorkspaceConnection } from "../workspace/connections.js";
import {
  ACTIVATE_BATCH,
  answeredRow,
  CAPABILITY,
  claimsSender,
  CountryState,
  DEACTIVATE_BATCH,
  desiredCountries,
  destinationsDrifted,
  findSender,
  isProvisioned,
  needsQuote,
  observeCountries,
  planCountries,
  policyRefusal,
  refusedRow,
  screenPrices,
  senderName,
  senderOwner,
  senderReadiness,
  senderStatus,
  sortedRows,
  unavailableRow,
  type CountryPlan,
  type CountryRow,
  type Guardrails,
  type Refusal,
} from "./desired.js";

export type AlphaSenderReconcilerOptions = ManagedReconcilerOptions<AlphaSender>;

/** What one reconcile of one sender works on: the rows are written back to status after every Bird write. */
interface Sync {
  as: AlphaSender;
  sender: AlphaNumber;
  connection: WorkspaceConnection;
  rows: Map<string, CountryRow>;
  status: AlphaSenderStatus;
}

/**
 * Reconciles one AlphaSender: resolve the workspace and the (already registered) sender, make sure no older
 * AlphaSender manages the same sender, then keep the sender's sms countries and their subscriptions in step with
 * the spec, and write status once. Level-based: only the key is trusted.
 */
export class AlphaSenderReconciler {
  /** Country prices screened and activated here, by resource key, until its status shows them (see pendingSpend). */
  private readonly reserved = new Map<string, { workspace: string; prices: Map<string, Money> }>();

  constructor(private readonly o: AlphaSenderReconcilerOptions) {}

  readonly reconcile = (key: string, context: ReconcileContext): Promise<ReconcileResult> =>
    reconcileManaged({ client: this.o.client, events: this.o.events, informer: this.o.informer, log: context.log, now: () => this.now() }, key, {
      observe: (as, status) => this.observe(as, status),
      apply: (as, status) => this.apply(as, status),
      cleanup: (as, status) => this.cleanup(as, status),
    });

  private async apply(as: AlphaSender, status: AlphaSenderStatus): Promise<StepOutcome<AlphaSender>> {
    if (as.spec.managementPolicy === "ObserveOnly") return this.observe(as, status);
    const connection = await this.workspaceFor(as);
    let sender = await this.senderOrWait(as, connection);
    this.ensureOwner(as, sender, status);
    Object.assign(status, senderStatus(sender));
    if (!isProvisioned(sender)) {
      const pollMs = Math.min(this.o.resyncMs, 5000);
      return { ready: notReady(Reason.Provisioning, `Bird is provisioning sender ${sender.alphaString} (${sender.endpoint?.provisioningStatus ?? "unknown"})`), requeueAfterMs: pollMs };
    }
    const desired = desiredCountries(as.spec);
    const guard = this.guardrails(as, connection);
    const rows = observeCountries(desired, status.countries ?? [], await connection.client.listSubscriptions(sender.endpointId));
    // Counts cached from before our own last write are not Bird's yet: drift is judged on the next list.
    let drifted = connection.inventory.isSenderCurrent(sender.id) && destinationsDrifted(rows.values(), sender);
    if (drifted) {
      // The inventory may be older than our last write: only a fresh read may trigger a repair.
      sender = await connection.inventory.reloadSender(sender.id);
      Object.assign(status, senderStatus(sender));
      drifted = destinationsDrifted(rows.values(), sender);
    }
    const specChanged = as.metadata?.generation !== as.status?.observedGeneration;
    const plan = planCountries(desired, rows, { drifted, specChanged });
    const sync: Sync = { as, sender, connection, rows, status };
    status.countries = sortedRows(rows);
    const activated = await this.activate(sync, plan, guard, specChanged);
    const released = await this.release(sync, plan);
    if (activated.length || released) connection.inventory.markSenderChanged(sender.id);
    if (released || activated.some((country) => !sync.rows.get(country)?.subscription && !sync.rows.get(country)?.blocked)) {
      // What Bird made of the writes where its answers did not say: the subscriptions and their prices.
      const subscriptions = await connection.client.listSubscriptions(sender.endpointId);
      sync.rows = observeCountries(desired, sortedRows(sync.rows), subscriptions);
    }
    status.countries = sortedRows(sync.rows);
    return { ready: senderReadiness({ name: sender.alphaString, desired, rows: sync.rows, issues: status.issues ?? [], guard, observeOnly: false }) };
  }

  /** ObserveOnly: report the sender and the spec's countries as Bird has them; write nothing to Bird. */
  private async observe(as: AlphaSender, status: AlphaSenderStatus): Promise<StepOutcome<AlphaSender>> {
    const connection = await this.workspaceFor(as);
    const sender = await this.senderOrWait(as, connection);
    Object.assign(status, senderStatus(sender));
    const desired = desiredCountries(as.spec);
    const previous = (status.countries ?? []).filter((row) => desired.includes(row.countryCode));
    const rows = observeCountries(desired, previous, await connection.client.listSubscriptions(sender.endpointId));
    status.countries = sortedRows(rows);
    const guard = this.guardrails(as, connection);
    return { ready: senderReadiness({ name: sender.alphaString, desired, rows, issues: status.issues ?? [], guard, observeOnly: true }) };
  }

  private workspaceFor(as: AlphaSender): Promise<WorkspaceConnection> {
    return connectAllowed(this.o.connections, as, this.o);
  }

  /** No API registers senders, so a missing one waits (polling at the resync interval) for the user to register it. */
  private async senderOrWait(as: AlphaSender, connection: WorkspaceConnection): Promise<AlphaNumber> {
    const sender = await this.locateSender(as, connection);
    if (sender) return sender;
    const what = as.spec.alphaNumberId ? `with id ${as.spec.alphaNumberId}` : `"${senderName(as.spec)}"`;
    const message = `BirdWorkspace "${as.spec.workspaceRef.name}" has no alphanumeric sender ${what}: register the sender with Bird first (no API creates senders); checking again in ${Math.round(this.o.resyncMs / 1000)} s`;
    this.o.events.record(as, "Warning", EventReason.SenderNotFound, message);
    throw new Waiting(message, Reason.SenderNotFound, this.o.resyncMs);
  }

  /**
   * The sender by recorded id, else as the spec names it. The shared inventory answers first; only a sender it lacks
   * (registered since its last refresh, or really missing) costs a fresh read: one GET by id, or a fresh paged list
   * by string, whose find is then loaded into the inventory so the next reconcile finds it there.
   */
  private async locateSender(as: AlphaSender, connection: WorkspaceConnection, knownId?: string): Promise<AlphaNumber | undefined> {
    const senders = await connection.inventory.senders();
    const id = knownId ?? as.spec.alphaNumberId;
    const listed = id ? senders.find((s) => s.id === id) : findSender(as.spec, senders);
    if (listed) return listed;
    let freshId = id;
    if (!freshId) {
      for await (const sender of connection.client.alphaNumbers()) {
        if (claimsSender(as.spec, sender)) {
          freshId = sender.id;
          break;
        }
      }
    }
    if (!freshId) return undefined;
    try {
      return await connection.inventory.reloadSender(freshId);
    } catch (error) {
      if (isBirdApiError(error) && error.kind === "not-found") return undefined;
      throw error;
    }
  }

  /**
   * One sender, one manager: among the AlphaSenders of the workspace that claim the sender with Full management, the
   * oldest owns it. Any other waits without a single Bird write (and forgets what it reported as if it owned it).
   */
  private ensureOwner(as: AlphaSender, sender: AlphaNumber, status: AlphaSenderStatus): void {
    const owner = this.ownerOf(as, sender);
    if (owner === as) return;
    Object.assign(status, { alphaNumberId: undefined, endpointId: undefined, countries: undefined });
    const ownerKey = objectKey(owner);
    const message = `sender ${sender.alphaString} is already managed by AlphaSender ${ownerKey} (the oldest claim in BirdWorkspace "${as.spec.workspaceRef.name}"); this resource changes nothing in Bird until ${ownerKey} is deleted or stops claiming the sender`;
    this.o.events.record(as, "Warning", EventReason.SenderConflict, message);
    throw new Waiting(message, Reason.SenderConflict, this.o.resyncMs);
  }

  private ownerOf(as: AlphaSender, sender: AlphaNumber): AlphaSender {
    const key = objectKey(as);
    const workspace = as.spec.workspaceRef.name;
    const others = this.o.informer
      .list()
      .filter((o) => objectKey(o) !== key && o.spec.workspaceRef.name === workspace && o.spec.managementPolicy !== "ObserveOnly" && claimsSender(o.spec, sender));
    return senderOwner([as, ...others]) ?? as;
  }

  private guardrails(as: AlphaSender, connection: WorkspaceConnection): Guardrails {
    return { workspace: connection.workspace, maxPrice: as.spec.maxMonthlyPricePerCountry, committed: this.o.committedSpend(as.spec.workspaceRef.name) };
  }

  /**
   * Activates what is missing and returns the countries activated: countries a drift repair re-activates are paid
   * for already and skip the guardrails; new ones must be allowed by the workspace policy and, when a limit applies,
   * fit it at the price Bird quotes in a validate-only call. Refused countries are reported and the rest activated.
   */
  private async activate(sync: Sync, plan: CountryPlan, guard: Guardrails, specChanged: boolean): Promise<string[]> {
    let fresh: string[] = [];
    for (const country of plan.fresh) {
      const refusal = policyRefusal(country, guard);
      if (refusal) this.refuse(sync, country, undefined, refusal);
      else fresh.push(country);
    }
    if (fresh.length && needsQuote(guard)) fresh = await this.screen(sync, fresh, guard, specChanged);
    const repair = new Set(plan.repair);
    const activated: string[] = [];
    try {
      for (const batch of chunk([...plan.repair, ...fresh].sort(), ACTIVATE_BATCH)) {
        activated.push(...(await this.activateBatch(sync, batch, repair)));
      }
    } finally {
      // Countries screened but not activated (refused by Bird, or the call failed) no longer count as spend.
      this.unreserve(objectKey(sync.as), fresh.filter((country) => !activated.includes(country)));
    }
    return activated;
  }

  /**
   * Monthly prices of countries this process activated (or is activating) that no cached status shows yet: the
   * spend policy counts them, as it counts statuses, so two senders screened at the same time cannot both take what
   * is left. A country is forgotten once its resource's cached status shows it active with its price.
   */
  pendingSpend(workspaceName: string): Money[] {
    const prices: Money[] = [];
    for (const [key, entry] of this.reserved) {
      const rows = this.o.informer.get(key)?.status?.countries;
      if (!this.o.informer.get(key)) {
        this.reserved.delete(key);
        continue;
      }
      for (const [country, price] of entry.prices) {
        const row = rows?.find((r) => r.countryCode === country);
        if (row?.subscription?.status === CountryState.Active && row.subscription.price) entry.prices.delete(country);
        else if (entry.workspace === workspaceName) prices.push(price);
      }
      if (entry.prices.size === 0) this.reserved.delete(key);
    }
    return prices;
  }

  private unreserve(key: string, countries: readonly string[]): void {
    const entry = this.reserved.get(key);
    if (!entry) return;
    for (const country of countries) entry.prices.delete(country);
    if (entry.prices.size === 0) this.reserved.delete(key);
  }

  /** Price and spend checks. A refused country's quote is kept in status, so it is asked again only on a spec change. */
  private async screen(sync: Sync, countries: string[], guard: Guardrails, specChanged: boolean): Promise<string[]> {
    const prices: Record<string, Money> = {};
    const toQuote: string[] = [];
    for (const country of countries) {
      const row = sync.rows.get(country);
      const known = !specChanged && row?.status === CountryState.Refused ? row.subscription?.price : undefined;
      if (known) prices[country] = known;
      else toQuote.push(country);
    }
    const quotable = new Set(countries.filter((c) => prices[c]));
    for (const batch of chunk(toQuote, ACTIVATE_BATCH)) {
      const { countries: served, result } = await this.tolerateUnavailable(sync, batch, (b) =>
        sync.connection.client.activateDestinations(sync.sender.endpointId, CAPABILITY, b, { validate: true }),
      );
      for (const country of served) quotable.add(country);
      Object.assign(prices, result?.subscriptionPrices ?? {});
    }
    // The quotes took a while: screen against what is committed now, and reserve what passes before anything else
    // can run (this and the screening are synchronous).
    const workspace = sync.as.spec.workspaceRef.name;
    const { accepted, refused } = screenPrices(countries.filter((c) => quotable.has(c)), prices, { ...guard, committed: this.o.committedSpend(workspace) });
    const key = objectKey(sync.as);
    const entry = this.reserved.get(key) ?? { workspace, prices: new Map<string, Money>() };
    for (const country of accepted) {
      const price = prices[country];
      if (price) entry.prices.set(country, price);
    }
    if (entry.prices.size) this.reserved.set(key, entry);
    for (const [country, refusal] of refused) this.refuse(sync, country, prices[country], refusal);
    return accepted;
  }

  private async activateBatch(sync: Sync, batch: string[], repair: ReadonlySet<string>): Promise<string[]> {
    const { countries, result } = await this.tolerateUnavailable(sync, batch, (b) => sync.connection.client.activateDestinations(sync.sender.endpointId, CAPABILITY, b));
    if (!countries.length) return [];
    for (const country of countries) {
      const destination = result?.results?.find((d) => d.countryCode === country);
      sync.rows.set(country, answeredRow(sync.rows.get(country), country, destination, CountryState.Active, result?.subscriptionPrices?.[country]));
    }
    sync.status.countries = sortedRows(sync.rows);
    const name = sync.sender.alphaString;
    const repaired = countries.filter((c) => repair.has(c));
    const note = repaired.length ? ` (${repaired.join(", ")} had been deactivated outside the operator)` : "";
    this.o.events.record(sync.as, "Normal", EventReason.DestinationsActivated, `Activated sms to ${countries.join(", ")} for sender ${name}${note}`);
    const blocked = countries.filter((c) => sync.rows.get(c)?.blocked);
    if (blocked.length) {
      this.o.events.record(sync.as, "Warning", EventReason.CountryBlocked, `Bird blocks sms from sender ${name} to ${blocked.join(", ")}: complete the sender's registration for these countries with Bird`);
    }
    return countries;
  }

  /**
   * Bird refuses a whole activate call when one country can never be served (alpha senders cannot reach the USA or
   * Canada) and names the countries in the error's details: those are marked unavailable and the rest is retried once.
   */
  private async tolerateUnavailable<T>(sync: Sync, batch: string[], call: (countries: string[]) => Promise<T>): Promise<{ countries: string[]; result?: T }> {
    try {
      return { countries: batch, result: await call(batch) };
    } catch (error) {
      const refused = unservedCountries(error, batch);
      if (!refused.length) throw error;
      const code = isBirdApiError(error) ? error.code : undefined;
      for (const country of refused) sync.rows.set(country, unavailableRow(country, code));
      sync.status.countries = sortedRows(sync.rows);
      this.o.events.record(sync.as, "Warning", EventReason.CountryUnavailable, `Bird cannot send sms from sender ${sync.sender.alphaString} to ${refused.join(", ")}: remove them from spec.countries`);
      const rest = batch.filter((c) => !refused.includes(c));
      return rest.length ? { countries: rest, result: await call(rest) } : { countries: [] };
    }
  }

  private refuse(sync: Sync, country: string, price: Money | undefined, refusal: Refusal): void {
    const before = sync.rows.get(country);
    sync.rows.set(country, refusedRow(country, price));
    if (before?.status === CountryState.Refused) return;
    const reason = refusal.reason === Reason.PriceAboveLimit ? EventReason.PriceAboveLimit : EventReason.PolicyViolation;
    this.o.events.record(sync.as, "Warning", reason, `Not activating ${country} for sender ${sync.sender.alphaString}: ${refusal.message}`);
  }

  /**
   * Countries no longer wanted: deactivate (25 a call), then cancel each one's subscription (named after the
   * country; already cancelled or unknown counts as done). A row goes only once both are done, so a failure half
   * way leaves what is left in status for the retry.
   */
  private async release(sync: Sync, plan: CountryPlan): Promise<boolean> {
    const { client } = sync.connection;
    const endpointId = sync.sender.endpointId;
    const name = sync.sender.alphaString;
    const cancel = new Set(plan.cancel);
    const deactivate = new Set(plan.deactivate);
    const groups = [...chunk(plan.deactivate, DEACTIVATE_BATCH), ...chunk(plan.cancel.filter((c) => !deactivate.has(c)), DEACTIVATE_BATCH)];
    for (const batch of groups) {
      const toDeactivate = batch.filter((c) => deactivate.has(c));
      if (toDeactivate.length) {
        const answer = await client.deactivateDestinations(endpointId, CAPABILITY, toDeactivate);
        for (const country of toDeactivate) {
          sync.rows.set(country, answeredRow(sync.rows.get(country), country, answer.find((d) => d.countryCode === country), CountryState.Inactive));
        }
        sync.status.countries = sortedRows(sync.rows);
        this.o.events.record(sync.as, "Normal", EventReason.DestinationsDeactivated, `Deactivated sms to ${toDeactivate.join(", ")} for sender ${name}`);
      }
      const cancelled: string[] = [];
      try {
        for (const country of batch.filter((c) => cancel.has(c))) {
          await cancelCountry(sync, country);
          cancelled.push(country);
          sync.rows.delete(country);
          sync.status.countries = sortedRows(sync.rows);
        }
      } finally {
        if (cancelled.length) this.o.events.record(sync.as, "Normal", EventReason.SubscriptionCancelled, `Cancelled the subscriptions of sender ${name} for ${cancelled.join(", ")}`);
      }
      for (const country of toDeactivate) sync.rows.delete(country);
    }
    for (const country of plan.drop) sync.rows.delete(country);
    sync.status.countries = sortedRows(sync.rows);
    return groups.length > 0;
  }

  /**
   * Deletion: Retain lets go; Delete deactivates every country the resource manages and cancels their
   * subscriptions before the finalizer goes. A resource that never owned the sender (a conflict) touches nothing.
   */
  private async cleanup(as: AlphaSender, status: AlphaSenderStatus): Promise<StepOutcome<AlphaSender>> {
    const deleting = { ready: notReady(Reason.Deleting, "deleting") };
    if (as.spec.managementPolicy === "ObserveOnly") return deleting;
    const name = status.alphaString ?? senderName(as.spec);
    if (as.spec.deletionPolicy === "Retain") {
      this.o.events.record(as, "Normal", EventReason.Retained, `deletionPolicy Retain: the countries of sender ${name} stay active in Bird (and paid for)`);
      return deleting;
    }
    const resolved = this.o.connections.connect(as.spec.workspaceRef.name);
    // A workspace that does not exist, and no sender ever recorded: this resource never activated anything.
    if (!resolved.ok && resolved.reason === Reason.WorkspaceNotFound && !status.alphaNumberId) return deleting;
    if (!resolved.ok) throw new TransientError(`cannot release the countries of sender ${name}: ${resolved.message}`, resolved.reason);
    const connection = resolved.value;
    const sender = await this.locateSender(as, connection, status.alphaNumberId);
    if (!sender || this.ownerOf(as, sender) !== as) return deleting;
    const desired = desiredCountries(as.spec);
    const rows = observeCountries(desired, status.countries ?? [], await connection.client.listSubscriptions(sender.endpointId));
    const sync: Sync = { as, sender, connection, rows, status };
    await this.release(sync, planCountries([], rows, { drifted: false, specChanged: false }));
    return deleting;
  }

  private now(): Date {
    return this.o.now?.() ?? new Date();
  }
}

/** The countries a refusing Bird error names in `details.countryCodes`, among those sent. */
function unservedCountries(error: unknown, sent: readonly string[]): string[] {
  if (!isBirdApiError(error) || error.kind !== "permanent") return [];
  const named = error.details?.countryCodes;
  if (!Array.isArray(named)) return [];
  return sent.filter((country) => named.includes(country));
}

async function cancelCountry(sync: Sync, country: string): Promise<void> {
  try {
    await sync.connection.client.cancelSubscription(sync.sender.endpointId, country);
  } catch (error) {
    if (!(isBirdApiError(error) && error.kind === "not-found")) throw error;
  }
}

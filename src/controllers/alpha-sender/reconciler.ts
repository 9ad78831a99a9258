import {
  ALPHA_SENDER_KIND,
  type AlphaSender,
  type AlphaSenderStatus,
  type BirdSender,
  type CountryCharge,
} from "../../api/v1alpha1/index.js";
import { EventReason, Reason } from "../../api/v1alpha1/conditions.js";
import { isBirdApiError } from "../../bird/errors.js";
import type { AlphaNumber, EndpointSubscription, Money } from "../../bird/types.js";
import type { Logger } from "../../log.js";
import { senderRecordName } from "../../ownership/names.js";
import type { RecordStore } from "../../ownership/records.js";
import { countryKey, type UsageBook } from "../../ownership/usage.js";
import type { ReconcileContext, ReconcileResult } from "../../runtime/controller.js";
import { TransientError, Waiting } from "../../runtime/errors.js";
import { addFinalizer } from "../../runtime/finalizer.js";
import { FINALIZER } from "../../api/v1alpha1/conditions.js";
import { ACTIVATE_BATCH, chunk, DEACTIVATE_BATCH } from "../batches.js";
import { deletionKeepReason, effectiveDeletionPolicy } from "../deletion-policy.js";
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
import type { SenderClaims } from "./claim.js";
import { birdSenders, type SenderExternal, type SenderExternalFactory } from "./external.js";
import {
  answeredRow,
  CountryState,
  desiredCountries,
  destinationsDrifted,
  isProvisioned,
  needsQuote,
  observeCountries,
  planCountries,
  policyRefusal,
  refusedRow,
  screenPrices,
  senderName,
  senderReadiness,
  senderStatus,
  sortedRows,
  unavailableRow,
  type CountryPlan,
  type CountryRow,
  type Guardrails,
  type Refusal,
} from "./desired.js";

export interface AlphaSenderReconcilerOptions extends ManagedReconcilerOptions<AlphaSender> {
  records: RecordStore<BirdSender>;
  claims: SenderClaims;
  usage: UsageBook;
  /** Bird as this reconciler sees it, per workspace; default the real one (tests hand in a fake). */
  external?: SenderExternalFactory;
}

/** What one reconcile of one sender works on: the rows are written back to status after every Bird write. */
interface Sync {
  alphaSender: AlphaSender;
  sender: AlphaNumber;
  record: BirdSender;
  external: SenderExternal;
  rows: Map<string, CountryRow>;
  status: AlphaSenderStatus;
  /** The sender's subscriptions as last listed: what is paid for, whether the spec manages it or not. */
  subscriptions: EndpointSubscription[];
  /** Countries whose subscription this reconcile cancelled. */
  cancelled: Set<string>;
}

/**
 * Reconciles one AlphaSender: admission (workspace Ready, namespace allowed), then the sender it holds (the BirdSender
 * record bound to its uid, claimed if none: the first allowed claim wins, a reservation for another namespace
 * refuses), then keep the sender's sms countries and their subscriptions in step with the spec, record what is paid
 * for on the record, and write status once. Level-based: only the key is trusted.
 */
export class AlphaSenderReconciler {
  constructor(private readonly options: AlphaSenderReconcilerOptions) {}

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
        apply: (alphaSender, status) =>
          this.apply(alphaSender, status, context.log).finally(() => countCountries(alphaSender, status)),
        cleanup: (alphaSender, status) => this.cleanup(alphaSender, status, context.log),
      },
    );

  private async apply(initial: AlphaSender, status: AlphaSenderStatus, log: Logger): Promise<StepOutcome<AlphaSender>> {
    // An object that never carried the finalizer nor a status never claimed: the cache answers alone (see findHeld).
    const askServer = mayHaveClaimed(initial);
    const held = await this.options.records.findHeld(initial, { askServer });
    // Status reports only the sender a record binds (a restored or copied status would show someone else's).
    if (!held) forgetSender(status);
    const external = this.external(this.options.admission.connect(initial));
    status.deletionPolicy = effectiveDeletionPolicy(initial, external.workspace);
    // ObserveOnly never claims; one that holds a record from its Full days keeps it, writing nothing to Bird.
    if (initial.spec.managementPolicy === "ObserveOnly") return this.observeOnly(initial, status, external, held);
    // Admitted: the finalizer goes on before the claim, so a claim is never left behind by a deletion.
    const alphaSender = await addFinalizer(this.options.client, FINALIZER, initial);
    const sender = await this.senderOrWait(alphaSender, external);
    const record = await this.options.claims.obtain(alphaSender, sender, log, { askServer });
    status.boundTo = record.metadata?.name;
    Object.assign(status, senderStatus(sender));
    if (!isProvisioned(sender)) return this.provisioning(alphaSender, sender);
    return this.syncCountries(alphaSender, sender, record, external, status);
  }

  /** A sender Bird is still provisioning: polled (at most every 5 s) until it is ready to take countries. */
  private provisioning(alphaSender: AlphaSender, sender: AlphaNumber): StepOutcome<AlphaSender> {
    const pollMs = Math.min(this.options.resyncMs, 5000);
    return {
      object: alphaSender,
      ready: notReady(
        Reason.Provisioning,
        `Bird is provisioning sender ${sender.alphaString} (${sender.endpoint?.provisioningStatus ?? "unknown"})`,
      ),
      requeueAfterMs: pollMs,
    };
  }

  /** Observe the spec's countries, plan, act on the plan, and report the sender's readiness. */
  private async syncCountries(
    alphaSender: AlphaSender,
    sender: AlphaNumber,
    record: BirdSender,
    external: SenderExternal,
    status: AlphaSenderStatus,
  ): Promise<StepOutcome<AlphaSender>> {
    const desired = desiredCountries(alphaSender.spec);
    const guard = this.guardrails(alphaSender, external);
    const observed = await this.observeCountries(sender, external, desired, status);
    const specChanged = alphaSender.metadata?.generation !== alphaSender.status?.observedGeneration;
    const plan = planCountries(desired, observed.rows, { drifted: observed.drifted, specChanged });
    const sync: Sync = { alphaSender, record, external, status, ...observed, cancelled: new Set() };
    status.countries = sortedRows(sync.rows);
    await this.act(sync, plan, guard, specChanged, desired);
    status.countries = sortedRows(sync.rows);
    return {
      object: alphaSender,
      ready: senderReadiness({
        name: sync.sender.alphaString,
        desired,
        rows: sync.rows,
        issues: status.issues ?? [],
        guard,
        observeOnly: false,
      }),
    };
  }

  /** The spec's countries as Bird has them, and whether Bird counts fewer active than we believe (drift). */
  private async observeCountries(
    initial: AlphaNumber,
    external: SenderExternal,
    desired: string[],
    status: AlphaSenderStatus,
  ): Promise<Pick<Sync, "sender" | "rows" | "subscriptions"> & { drifted: boolean }> {
    let sender = initial;
    const subscriptions = await external.observeSubscriptions(sender);
    const rows = observeCountries(desired, status.countries ?? [], subscriptions);
    // Counts cached from before our own last write are not Bird's yet: drift is judged on the next list.
    let drifted = external.countsCurrent(sender.id) && destinationsDrifted(rows.values(), sender);
    if (drifted) {
      // The inventory may be older than our last write: only a fresh read may trigger a repair.
      sender = await external.observeFresh(sender.id);
      Object.assign(status, senderStatus(sender));
      drifted = destinationsDrifted(rows.values(), sender);
    }
    return { sender, rows, subscriptions, drifted };
  }

  /** Activates and releases what the plan says, then records on the record what the sender is paid for now. */
  private async act(
    sync: Sync,
    plan: CountryPlan,
    guard: Guardrails,
    specChanged: boolean,
    desired: string[],
  ): Promise<void> {
    try {
      const activated = await this.activate(sync, plan, guard, specChanged);
      const released = await this.release(sync, plan);
      if (activated.length || released) sync.external.markChanged(sync.sender.id);
      if (
        released ||
        activated.some((country) => !sync.rows.get(country)?.subscription && !sync.rows.get(country)?.blocked)
      ) {
        // What Bird made of the writes where its answers did not say: the subscriptions and their prices.
        sync.subscriptions = await sync.external.observeSubscriptions(sync.sender);
        sync.rows = observeCountries(desired, sortedRows(sync.rows), sync.subscriptions);
      }
    } finally {
      const paid = charges(sync);
      try {
        sync.record = await this.options.claims.recordCharges(sync.record, paid);
      } finally {
        this.options.usage.releaseUncharged(sync.alphaSender.spec.workspaceRef.name, sync.record.metadata?.name ?? "", [
          ...paid.map((charge) => charge.countryCode),
          ...mayBeBilled(sync.rows),
        ]);
      }
    }
  }

  /** ObserveOnly: report the sender and the spec's countries as Bird has them; write nothing to Bird. */
  private async observeOnly(
    alphaSender: AlphaSender,
    status: AlphaSenderStatus,
    external: SenderExternal,
    held: BirdSender | undefined,
  ): Promise<StepOutcome<AlphaSender>> {
    const sender = await this.senderOrWait(alphaSender, external);
    const record = held ?? this.options.records.get(senderRecordName(alphaSender.spec.workspaceRef.name, sender.id));
    if (!held && record?.spec.claimRef && record.spec.claimRef.namespace !== alphaSender.metadata?.namespace) {
      throw new Waiting(
        `sender ${sender.alphaString} is held by namespace "${record.spec.claimRef.namespace}"; ` +
          "ObserveOnly reports only senders of this namespace or no one's",
        Reason.SenderConflict,
        this.options.resyncMs,
      );
    }
    Object.assign(status, senderStatus(sender), { boundTo: held?.metadata?.name });
    const desired = desiredCountries(alphaSender.spec);
    const previous = (status.countries ?? []).filter((row) => desired.includes(row.countryCode));
    const rows = observeCountries(desired, previous, await external.observeSubscriptions(sender));
    status.countries = sortedRows(rows);
    const guard = this.guardrails(alphaSender, external);
    return {
      ready: senderReadiness({
        name: sender.alphaString,
        desired,
        rows,
        issues: status.issues ?? [],
        guard,
        observeOnly: true,
      }),
    };
  }

  /** No API registers senders, so a missing one waits (polling at the resync interval) for the user to register it. */
  private async senderOrWait(alphaSender: AlphaSender, external: SenderExternal): Promise<AlphaNumber> {
    const sender = await external.observe(alphaSender.spec);
    if (sender) return sender;
    const what = alphaSender.spec.alphaNumberId
      ? `with id ${alphaSender.spec.alphaNumberId}`
      : `"${senderName(alphaSender.spec)}"`;
    const message =
      `BirdWorkspace "${alphaSender.spec.workspaceRef.name}" has no alphanumeric sender ${what}: ` +
      "register the sender with " +
      `Bird first (no API creates senders); checking again in ${Math.round(this.options.resyncMs / 1000)} s`;
    this.options.events.record(alphaSender, "Warning", EventReason.SenderNotFound, message);
    throw new Waiting(message, Reason.SenderNotFound, this.options.resyncMs);
  }

  private guardrails(alphaSender: AlphaSender, external: SenderExternal): Guardrails {
    return {
      workspace: external.workspace,
      maxPrice: alphaSender.spec.maxMonthlyPricePerCountry,
      committed: () => this.options.usage.of(external).prices,
    };
  }

  /**
   * Activates what is missing and returns the countries activated: countries a drift repair re-activates are paid
   * for already and skip the guardrails; new ones must be allowed by the workspace policy and, when a limit applies,
   * fit it at the price Bird quotes in a validate-only call. Refused countries are reported and the rest activated.
   */
  private async activate(sync: Sync, plan: CountryPlan, guard: Guardrails, specChanged: boolean): Promise<string[]> {
    let toActivate: string[] = [];
    for (const country of plan.activate) {
      const refusal = policyRefusal(country, guard);
      if (refusal) this.refuse(sync, country, undefined, refusal);
      else toActivate.push(country);
    }
    if (toActivate.length && needsQuote(guard)) toActivate = await this.screen(sync, toActivate, guard, specChanged);
    const repair = new Set(plan.repair);
    const activated: string[] = [];
    try {
      for (const batch of chunk([...plan.repair, ...toActivate].sort(), ACTIVATE_BATCH)) {
        activated.push(...(await this.activateBatch(sync, batch, repair)));
      }
    } finally {
      // Countries screened but not activated (refused by Bird, or the call failed) no longer count as spend.
      for (const country of toActivate)
        if (!activated.includes(country))
          this.options.usage.release(
            sync.alphaSender.spec.workspaceRef.name,
            countryKey(sync.record.metadata?.name ?? "", country),
          );
    }
    return activated;
  }

  /**
   * Price and spend checks. A refused country's quote is kept in status, so it is asked again only on a spec change.
   */
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
        sync.external.quote(sync.sender, b),
      );
      for (const country of served) quotable.add(country);
      Object.assign(prices, result?.subscriptionPrices ?? {});
    }
    // The quotes took a while: screen against what is committed now (`committed` counts when asked), and reserve what
    // passes before anything else can run (this and the screening are synchronous).
    const { accepted, refused } = screenPrices(
      countries.filter((c) => quotable.has(c)),
      prices,
      guard,
    );
    const recordName = sync.record.metadata?.name ?? "";
    // Counted until the record lists the country as paid for (or the activation fails and it is released).
    for (const country of accepted)
      this.options.usage.reserve(
        sync.alphaSender.spec.workspaceRef.name,
        countryKey(recordName, country),
        prices[country],
      );
    for (const [country, refusal] of refused) this.refuse(sync, country, prices[country], refusal);
    return accepted;
  }

  private async activateBatch(sync: Sync, batch: string[], repair: ReadonlySet<string>): Promise<string[]> {
    const { countries, result } = await this.tolerateUnavailable(sync, batch, (b) =>
      sync.external.activate(sync.sender, b, this.guard(sync)),
    );
    if (!countries.length) return [];
    this.options.metrics?.purchases.inc(
      { workspace: sync.alphaSender.spec.workspaceRef.name, kind: ALPHA_SENDER_KIND },
      countries.filter((c) => !repair.has(c)).length,
    );
    for (const country of countries) {
      const destination = result?.results?.find((d) => d.countryCode === country);
      sync.rows.set(
        country,
        answeredRow(
          sync.rows.get(country),
          country,
          destination,
          CountryState.Active,
          result?.subscriptionPrices?.[country],
        ),
      );
    }
    sync.status.countries = sortedRows(sync.rows);
    this.reportActivated(sync, countries, repair);
    return countries;
  }

  private reportActivated(sync: Sync, countries: string[], repair: ReadonlySet<string>): void {
    const name = sync.sender.alphaString;
    const repaired = countries.filter((c) => repair.has(c));
    const note = repaired.length ? ` (${repaired.join(", ")} had been deactivated outside the operator)` : "";
    this.options.events.record(
      sync.alphaSender,
      "Normal",
      EventReason.DestinationsActivated,
      `Activated sms to ${countries.join(", ")} for sender ${name}${note}`,
    );
    const blocked = countries.filter((c) => sync.rows.get(c)?.blocked);
    if (blocked.length) {
      this.options.events.record(
        sync.alphaSender,
        "Warning",
        EventReason.CountryBlocked,
        `Bird blocks sms from sender ${name} to ${blocked.join(", ")}: ` +
          "complete the sender's registration for these countries with Bird",
      );
    }
  }

  /**
   * Bird refuses a whole activate call when one country can never be served (alpha senders cannot reach the USA or
   * Canada) and names the countries in the error's details: those are marked unavailable and the rest is retried once.
   */
  private async tolerateUnavailable<T>(
    sync: Sync,
    batch: string[],
    call: (countries: string[]) => Promise<T>,
  ): Promise<{ countries: string[]; result?: T }> {
    try {
      return { countries: batch, result: await call(batch) };
    } catch (error) {
      const refused = unservedCountries(error, batch);
      if (!refused.length) throw error;
      const code = isBirdApiError(error) ? error.code : undefined;
      for (const country of refused) sync.rows.set(country, unavailableRow(country, code));
      sync.status.countries = sortedRows(sync.rows);
      this.options.events.record(
        sync.alphaSender,
        "Warning",
        EventReason.CountryUnavailable,
        `Bird cannot send sms from sender ${sync.sender.alphaString} to ${refused.join(", ")}: ` +
          "remove them from spec.countries",
      );
      const rest = batch.filter((c) => !refused.includes(c));
      return rest.length ? { countries: rest, result: await call(rest) } : { countries: [] };
    }
  }

  private refuse(sync: Sync, country: string, price: Money | undefined, refusal: Refusal): void {
    const before = sync.rows.get(country);
    sync.rows.set(country, refusedRow(country, price));
    this.options.metrics?.purchasesRefused.inc({
      workspace: sync.alphaSender.spec.workspaceRef.name,
      kind: ALPHA_SENDER_KIND,
      reason: refusal.reason,
    });
    if (before?.status === CountryState.Refused) return;
    const reason =
      refusal.reason === Reason.PriceAboveLimit ? EventReason.PriceAboveLimit : EventReason.PolicyViolation;
    this.options.events.record(
      sync.alphaSender,
      "Warning",
      reason,
      `Not activating ${country} for sender ${sync.sender.alphaString}: ${refusal.message}`,
    );
  }

  /**
   * Countries no longer wanted: deactivate (25 a call), then cancel each one's subscription (named after the
   * country; already cancelled or unknown counts as done). A row goes only once both are done, so a failure half
   * way leaves what is left in status for the retry.
   */
  private async release(sync: Sync, plan: CountryPlan): Promise<boolean> {
    const cancel = new Set(plan.cancel);
    const deactivate = new Set(plan.deactivate);
    const groups = [
      ...chunk(plan.deactivate, DEACTIVATE_BATCH),
      ...chunk(
        plan.cancel.filter((c) => !deactivate.has(c)),
        DEACTIVATE_BATCH,
      ),
    ];
    for (const batch of groups) {
      const toDeactivate = batch.filter((c) => deactivate.has(c));
      if (toDeactivate.length) await this.deactivateBatch(sync, toDeactivate);
      await this.cancelBatch(
        sync,
        batch.filter((c) => cancel.has(c)),
      );
      for (const country of toDeactivate) sync.rows.delete(country);
    }
    for (const country of plan.drop) sync.rows.delete(country);
    sync.status.countries = sortedRows(sync.rows);
    return groups.length > 0;
  }

  private async deactivateBatch(sync: Sync, toDeactivate: string[]): Promise<void> {
    const answer = await sync.external.deactivate(sync.sender, toDeactivate, this.guard(sync));
    for (const country of toDeactivate) {
      sync.rows.set(
        country,
        answeredRow(
          sync.rows.get(country),
          country,
          answer.find((d) => d.countryCode === country),
          CountryState.Inactive,
        ),
      );
    }
    sync.status.countries = sortedRows(sync.rows);
    this.options.events.record(
      sync.alphaSender,
      "Normal",
      EventReason.DestinationsDeactivated,
      `Deactivated sms to ${toDeactivate.join(", ")} for sender ${sync.sender.alphaString}`,
    );
  }

  /** Cancels one subscription at a time; one event names those cancelled, even when a later one fails. */
  private async cancelBatch(sync: Sync, toCancel: string[]): Promise<void> {
    const cancelled: string[] = [];
    try {
      for (const country of toCancel) {
        await sync.external.cancel(sync.sender, country, this.guard(sync));
        cancelled.push(country);
        this.options.metrics?.cancellations.inc({
          workspace: sync.alphaSender.spec.workspaceRef.name,
          kind: ALPHA_SENDER_KIND,
        });
        sync.cancelled.add(country);
        sync.rows.delete(country);
        sync.status.countries = sortedRows(sync.rows);
      }
    } finally {
      if (cancelled.length)
        this.options.events.record(
          sync.alphaSender,
          "Normal",
          EventReason.SubscriptionCancelled,
          `Cancelled the subscriptions of sender ${sync.sender.alphaString} for ${cancelled.join(", ")}`,
        );
    }
  }

  /**
   * Deletion acts only on the sender bound to this object's uid. Retain, ObserveOnly, or a namespace no longer allowed:
   * the record is Released (its countries stay paid for). Delete: every country the resource manages is deactivated
   * and its subscription cancelled, then the record goes. `done` only then; anything else keeps the finalizer.
   */
  private async cleanup(
    alphaSender: AlphaSender,
    status: AlphaSenderStatus,
    log: Logger,
  ): Promise<CleanupOutcome<AlphaSender>> {
    const deleting = (message: string): CleanupOutcome<AlphaSender> => ({
      done: true,
      ready: notReady(Reason.Deleting, message),
    });
    const resolved = this.options.connections.connect(alphaSender.spec.workspaceRef.name);
    const record =
      (await this.options.records.findHeld(alphaSender)) ??
      (await this.claimBeforeCleanup(alphaSender, status, resolved.ok ? resolved.value : undefined, log));
    if (!record) return deleting("held no sender: nothing to release");
    const policy = effectiveDeletionPolicy(alphaSender, resolved.ok ? resolved.value.workspace : undefined);
    status.deletionPolicy = policy;
    const keep = this.keepReason(alphaSender, policy);
    if (keep) {
      await this.options.claims.release(alphaSender, record, keep, log);
      return deleting(`sender kept (${keep})`);
    }
    const name = record.status?.alphaString ?? senderName(alphaSender.spec);
    if (!resolved.ok)
      throw new TransientError(
        `cannot release the countries of sender ${name}: ${resolved.message}. To let go without cancelling, ` +
          "set spec.deletionPolicy: Retain",
        resolved.reason,
      );
    const current = await this.releaseAll(alphaSender, status, record, this.external(resolved.value));
    await this.options.claims.remove(current);
    log.info({ record: record.metadata?.name, alphaString: name }, "Released the sender's countries");
    return deleting(`countries of sender ${name} deactivated and cancelled`);
  }

  /** Deactivates and cancels every country the spec manages; returns the record with the charges left on it. */
  private async releaseAll(
    alphaSender: AlphaSender,
    status: AlphaSenderStatus,
    record: BirdSender,
    external: SenderExternal,
  ): Promise<BirdSender> {
    const sender = await external.observe(alphaSender.spec, record.spec.alphaNumberId);
    if (!sender) return record;
    const desired = desiredCountries(alphaSender.spec);
    const subscriptions = await external.observeSubscriptions(sender);
    const rows = observeCountries(desired, status.countries ?? [], subscriptions);
    const sync: Sync = { alphaSender, sender, record, external, rows, status, subscriptions, cancelled: new Set() };
    let current = record;
    try {
      await this.release(sync, planCountries([], rows, { drifted: false, specChanged: false }));
    } finally {
      current = await this.options.claims.recordCharges(sync.record, charges(sync));
    }
    return current;
  }

  /**
   * An object of the previous release (it managed the sender, status says which) deleted before its first reconcile
   * here: it claims its record first, as its apply would have (the oldest admitted claimant wins), then cleans up.
   */
  private async claimBeforeCleanup(
    alphaSender: AlphaSender,
    status: AlphaSenderStatus,
    connection: WorkspaceConnection | undefined,
    log: Logger,
  ): Promise<BirdSender | undefined> {
    // Only the previous release's objects: they report a sender but were never bound (no status.boundTo).
    if (
      !connection ||
      !status.alphaNumberId ||
      status.boundTo ||
      alphaSender.spec.managementPolicy === "ObserveOnly" ||
      !this.options.admission.check(alphaSender).ok
    )
      return undefined;
    const sender = await this.external(connection).observe(alphaSender.spec, status.alphaNumberId);
    return sender ? this.options.claims.obtain(alphaSender, sender, log).catch(() => undefined) : undefined;
  }

  /** Asked before each Bird write on the sender leaves: the record still binds the resource; this replica may act. */
  private guard(sync: Sync): SendGuard {
    return holderGuard(this.options.records, sync.alphaSender, sync.record.metadata?.name ?? "", this.options.mayAct);
  }

  /** Why deletion keeps the countries instead of cancelling them; undefined when it cancels. */
  private keepReason(alphaSender: AlphaSender, policy: string): string | undefined {
    return deletionKeepReason(alphaSender, policy, () => this.options.admission.namespaceCheck(alphaSender));
  }

  private external(connection: WorkspaceConnection): SenderExternal {
    return (this.options.external ?? birdSenders)(connection);
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }
}

/** Status reports only the sender a record binds: without one, the sender fields go. */
function forgetSender(status: AlphaSenderStatus): void {
  for (const field of [
    "boundTo",
    "alphaNumberId",
    "endpointId",
    "alphaString",
    "provisioningStatus",
    "issues",
    "countries",
  ] as const)
    delete status[field];
}

/** The counts kubectl shows: countries the spec asks for, and how many of them are active. */
function countCountries(alphaSender: AlphaSender, status: AlphaSenderStatus): void {
  const desired = new Set(desiredCountries(alphaSender.spec));
  status.desiredCountries = desired.size;
  status.activeCountries = (status.countries ?? []).filter(
    (row) => desired.has(row.countryCode) && row.status === CountryState.Active,
  ).length;
}

/** The countries a refusing Bird error names in `details.countryCodes`, among those sent (exported for the planner). */
export function unservedCountries(error: unknown, sent: readonly string[]): string[] {
  if (!isBirdApiError(error) || error.kind !== "permanent") return [];
  const named = error.details?.countryCodes;
  if (!Array.isArray(named)) return [];
  return sent.filter((country) => named.includes(country));
}

/**
 * Countries Bird shows active and unblocked without a subscription yet: it may still bill them (its list can lag its
 * answer), so their reservations stay until the record lists them. Refused, blocked or inactive ones it does not.
 */
function mayBeBilled(rows: ReadonlyMap<string, CountryRow>): string[] {
  return [...rows.values()]
    .filter((row) => (row.status === CountryState.Active || row.status === CountryState.Pending) && !row.blocked)
    .map((row) => row.countryCode);
}

/**
 * What the sender is paid for now: every subscription Bird lists as active (managed by the spec or not), with the
 * answers of this reconcile's writes on top where no list followed them. Exported for `bird-operator plan`.
 */
export function charges(sync: Pick<Sync, "subscriptions" | "rows" | "cancelled">): CountryCharge[] {
  const paid = new Map<string, CountryCharge>();
  const charge = (countryCode: string, price: CountryCharge["price"]): CountryCharge => ({
    countryCode,
    ...(price ? { price } : {}),
  });
  for (const s of sync.subscriptions)
    if (s.status === CountryState.Active && /^[A-Z]{2}$/.test(s.name)) paid.set(s.name, charge(s.name, s.price));
  for (const row of sync.rows.values())
    if (row.subscription?.status === CountryState.Active)
      paid.set(row.countryCode, charge(row.countryCode, row.subscription.price));
  for (const country of sync.cancelled) paid.delete(country);
  return [...paid.values()];
}

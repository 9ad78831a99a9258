import type { BirdNumber, BirdWorkspace, PhoneNumber } from "../../api/v1alpha1/index.js";
import { API_VERSION, BIRD_NUMBER_KIND, PHONE_NUMBER_KIND } from "../../api/v1alpha1/index.js";
import { EventReason, Reason } from "../../api/v1alpha1/conditions.js";
import { isBirdApiError, type BirdApiError } from "../../bird/errors.js";
import { formatMoney } from "../../bird/money.js";
import type { LongCodeNumber, Money, NumberStockItem } from "../../bird/types.js";
import type { Logger } from "../../log.js";
import { numberRecordName } from "../../ownership/names.js";
import { boundTo, Phase, type RecordStore } from "../../ownership/records.js";
import type { Usage, UsageBook } from "../../ownership/usage.js";
import { PermanentError, TransientError, Waiting } from "../../runtime/errors.js";
import type { EventRecorder } from "../../runtime/events.js";
import type { Metrics } from "../../runtime/metrics.js";
import { rfc3339 } from "../../runtime/status.js";
import { countryViolation, priceViolation, spendViolation } from "../guardrails.js";
import { stockFilter, stockItemMatches } from "./desired.js";
import type { NumberExternal, StockSource } from "./external.js";
import type { PurchaseGrace } from "../../ownership/purchase-grace.js";

export interface PurchaserOptions {
  records: RecordStore<BirdNumber>;
  usage: UsageBook;
  events: EventRecorder;
  metrics?: Metrics;
  resyncMs: number;
  /** Asked right before a buy leaves: false when this replica can no longer be sure it leads (see Manager.mayAct). */
  mayAct?: () => boolean;
  /** Told when each buy is sent and when its answer is in: an unresolved purchase's grace runs from then. */
  grace: PurchaseGrace;
  now: () => Date;
}

export interface Purchase {
  record: BirdNumber;
  /** Undefined when the outcome is not known yet (the record stays Purchasing and is resolved by lookup). */
  number: LongCodeNumber;
}

/**
 * Buys a number for a PhoneNumber, crash-safe: guardrails, then the claim (a BirdNumber in phase Purchasing, created
 * before the buy call, whose derived name makes it the only claim on that number), then the buy, then the bind.
 * A crash anywhere leaves either no purchase, or a purchase that its record finds again by numberString.
 */
export class Purchaser {
  constructor(private readonly options: PurchaserOptions) {}

  /** `reserved`: the record the platform team prepared for this namespace, bought into instead of a new one. */
  async purchase(pn: PhoneNumber, external: NumberExternal, log: Logger, reserved?: BirdNumber): Promise<Purchase> {
    await external.refresh();
    const workspaceName = external.workspace.metadata?.name ?? "";
    const item = await this.pickStockItem(pn, external, reserved).catch((error: unknown) =>
      this.refused(workspaceName, error),
    );
    const name = numberRecordName(workspaceName, item.numberString);
    const record = await this.reserveAndClaim(pn, workspaceName, external, item, name, reserved);
    log.info({ record: name, numberString: item.numberString, stockItemId: item.id }, "Buying number");
    let number: LongCodeNumber | undefined;
    const attempt = this.options.grace.sending(name);
    try {
      number = await external.buy(item, () => this.staleLeader(item));
    } catch (error) {
      return this.failed(pn, record, item, external, error, log);
    } finally {
      attempt.done();
    }
    if (!number || number.numberString !== item.numberString)
      throw new TransientError(
        `Bird answered the purchase of ${item.numberString} ` +
          `${number ? `with another number (${number.numberString})` : "without the number"}; it is looked up next`,
        Reason.PurchasePending,
      );
    const bound = await this.bind(record, number, item.monthlyPrice);
    this.reportPurchased(pn, bound, name, number, item, log);
    return { record: bound, number };
  }

  /** The spend is reserved (or refused by a guardrail), then the claim written; a lost claim frees the reservation. */
  private async reserveAndClaim(
    pn: PhoneNumber,
    workspaceName: string,
    external: NumberExternal,
    item: NumberStockItem,
    name: string,
    reserved: BirdNumber | undefined,
  ): Promise<BirdNumber> {
    try {
      this.reserve(external, item, name);
    } catch (error) {
      this.refused(workspaceName, error);
    }
    let record: BirdNumber | undefined;
    try {
      record = await this.claim(pn, item, name, reserved);
    } finally {
      if (!record) this.options.usage.release(workspaceName, name);
    }
    if (!record)
      throw new TransientError(
        `${item.numberString} was claimed by another resource meanwhile; picking another`,
        Reason.CannotPurchase,
      );
    return record;
  }

  private reportPurchased(
    pn: PhoneNumber,
    bound: BirdNumber,
    name: string,
    number: LongCodeNumber,
    item: NumberStockItem,
    log: Logger,
  ): void {
    const pin = pn.spec.numberString
      ? ""
      : `; pin spec.numberString: "${number.numberString}" in Git ` +
        "so a rebuilt cluster adopts it instead of buying again";
    const message = `Bought ${number.numberString} for ${formatMoney(item.monthlyPrice)} a month${pin}`;
    log.info(
      { record: name, numberString: number.numberString, numberId: number.id, price: formatMoney(item.monthlyPrice) },
      "Purchased number",
    );
    this.options.events.record(pn, "Normal", EventReason.Purchased, message);
    this.options.events.record(
      bound,
      "Normal",
      EventReason.Purchased,
      `${message} for ${pn.metadata?.namespace}/${pn.metadata?.name}`,
    );
  }

  /** Binds a record to the number Bird answered (or that a lookup found): phase Bound, ids, price. */
  async bind(record: BirdNumber, number: LongCodeNumber, price?: Money): Promise<BirdNumber> {
    let current = record;
    for (let attempt = 0; ; attempt++) {
      const monthlyPrice = price ?? current.status?.monthlyPrice;
      const status = {
        ...current.status,
        phase: Phase.Bound,
        numberId: number.id,
        endpointId: number.endpointId,
        purchase: undefined,
        monthlyPrice,
        monthlyPriceText: monthlyPrice ? formatMoney(monthlyPrice) : undefined,
      };
      try {
        const bound = await this.options.records.update({ ...current, status });
        // Bound from Purchasing: the buy happened (answered, or found by lookup after a crash or a 5xx).
        if (current.status?.phase === Phase.Purchasing)
          this.options.metrics?.purchases.inc({ workspace: record.spec.workspaceRef.name, kind: PHONE_NUMBER_KIND });
        return bound;
      } catch (error) {
        // Losing this write would only leave the record Purchasing (resolved by lookup later); retry a few times.
        const fresh = attempt < 5 ? await this.options.records.read(current.metadata?.name ?? "") : undefined;
        if (!fresh || fresh.spec.claimRef?.uid !== record.spec.claimRef?.uid) throw error;
        current = fresh;
      }
    }
  }

  /**
   * The claim, written before the buy: a new record, or the prepared one taken over (an update carrying its version).
   */
  private async claim(
    pn: PhoneNumber,
    item: NumberStockItem,
    name: string,
    reserved: BirdNumber | undefined,
  ): Promise<BirdNumber | undefined> {
    const status = {
      phase: Phase.Purchasing,
      purchase: { stockItemId: item.id, startedAt: rfc3339(this.options.now()) },
      monthlyPrice: item.monthlyPrice,
      monthlyPriceText: formatMoney(item.monthlyPrice),
    };
    if (reserved)
      return this.options.records.update(boundTo({ ...reserved, status: { ...reserved.status, ...status } }, pn));
    const record: BirdNumber = {
      apiVersion: API_VERSION,
      kind: BIRD_NUMBER_KIND,
      metadata: { name },
      spec: { workspaceRef: { name: pn.spec.workspaceRef.name }, numberString: item.numberString },
      status,
    };
    return this.options.records.create(boundTo(record, pn));
  }

  /** Counts a refusal by a guardrail or for lack of stock (the condition reason the resource shows), and rethrows. */
  private refused(workspace: string, error: unknown): never {
    if (error instanceof Waiting || error instanceof PermanentError)
      this.options.metrics?.purchasesRefused.inc({ workspace, kind: PHONE_NUMBER_KIND, reason: error.reason });
    throw error;
  }

  private staleLeader(item: NumberStockItem): Error | undefined {
    if (!this.options.mayAct || this.options.mayAct()) return undefined;
    return new TransientError(
      `not buying ${item.numberString}: this replica's leader lease is no longer fresh; the leader resolves the claim`,
      Reason.PurchasePending,
    );
  }

  /**
   * A buy that failed. Bird's answer decides: a refusal or a 5xx (Bird documents both as not processed) means nothing
   * was bought, so the claim goes and another item is tried soon; a 5xx is looked up once first, in case. Without a
   * clear answer (timeout, network) the record stays Purchasing and the next reconcile resolves it by lookup.
   */
  private async failed(
    pn: PhoneNumber,
    record: BirdNumber,
    item: NumberStockItem,
    external: NumberExternal,
    error: unknown,
    log: Logger,
  ): Promise<Purchase> {
    const name = record.metadata?.name ?? "";
    if (!isBirdApiError(error) || error.ambiguous) {
      log.warn({ record: name, err: String(error) }, "Purchase outcome unknown; the record is resolved by lookup");
      throw new TransientError(
        `the purchase of ${item.numberString} may or may not have reached Bird (${String(error)}); ` +
          "it is looked up before anything else is bought",
        Reason.PurchasePending,
        { cause: error },
      );
    }
    if (error.status >= 500) {
      const found = await external.observe({ numberString: item.numberString, uncached: true });
      if (found) return { record: await this.bind(record, found, item.monthlyPrice), number: found };
    }
    await this.withdrawClaim(pn, record, item, external, error, log);
    if (error.status === 422 || error.kind === "transient") {
      throw new TransientError(
        `${item.numberString} could not be bought (${error.message}); trying another`,
        Reason.CannotPurchase,
        { cause: error },
      );
    }
    throw new PermanentError(
      `Bird refused the purchase of ${item.numberString}: ${error.message}`,
      Reason.CannotPurchase,
      { cause: error, retryAfterMs: this.options.resyncMs },
    );
  }

  /** Nothing was bought: the claim and its spend reservation go, and the refusal is counted and reported. */
  private async withdrawClaim(
    pn: PhoneNumber,
    record: BirdNumber,
    item: NumberStockItem,
    external: NumberExternal,
    error: BirdApiError,
    log: Logger,
  ): Promise<void> {
    const name = record.metadata?.name ?? "";
    await this.options.records.remove(record);
    this.options.usage.release(external.workspace.metadata?.name ?? "", name);
    this.options.metrics?.purchasesRefused.inc({
      workspace: record.spec.workspaceRef.name,
      kind: PHONE_NUMBER_KIND,
      reason: Reason.CannotPurchase,
    });
    log.info(
      { record: name, numberString: item.numberString, status: error.status, code: error.code },
      "Purchase refused; claim withdrawn",
    );
    this.options.events.record(
      record,
      "Warning",
      EventReason.PurchaseFailed,
      `Bird did not sell ${item.numberString} to ${pn.metadata?.namespace}/${pn.metadata?.name}: ${error.message}`,
    );
  }

  /** A stock item for this spec (see chooseStockItem), never one somebody holds or reserved a record for. */
  private async pickStockItem(
    pn: PhoneNumber,
    external: NumberExternal,
    reserved: BirdNumber | undefined,
  ): Promise<NumberStockItem> {
    const workspaceName = external.workspace.metadata?.name ?? "";
    // A record prepared for this namespace names its number: only that number is bought into it, never another.
    const free = (item: NumberStockItem): boolean => {
      const name = numberRecordName(workspaceName, item.numberString);
      if (reserved) return name === reserved.metadata?.name;
      return !this.options.records.get(name) && !this.options.usage.reserved(workspaceName, name);
    };
    return chooseStockItem(pn, external, free, this.options.resyncMs);
  }

  /**
   * The quota and spend checks and the reservation, with no await in between: no other reconcile can slip between the
   * check and the reservation.
   */
  private reserve(external: NumberExternal, item: NumberStockItem, name: string): void {
    const refused = quotaRefusal(external.workspace, () => this.options.usage.of(external), item);
    if (refused) throw new Waiting(refused, Reason.QuotaExceeded, this.options.resyncMs);
    this.options.usage.reserve(external.workspace.metadata?.name ?? "", name, item.monthlyPrice);
  }
}

/**
 * A stock item for this spec: from the workspace's shared stock pool when one fits, else from a full search that
 * also finds out why nothing fits (policy, price, or no stock). Items `free` refuses (held, or claimed in flight)
 * are never taken. Exported for `bird-operator plan`, which must pick as the operator would.
 */
export async function chooseStockItem(
  pn: PhoneNumber,
  stock: StockSource,
  free: (item: NumberStockItem) => boolean,
  resyncMs: number,
): Promise<NumberStockItem> {
  const workspace = stock.workspace;
  const filter = stockFilter(pn.spec);
  const pooled = await stock.pooledStock(filter, (item) => free(item) && fitsSpecAndPolicy(pn, workspace, item));
  if (pooled) return pooled;
  const country = filter.countryCodes?.[0];
  const policy = country ? countryViolation(workspace, country) : undefined;
  if (policy) throw new PermanentError(policy, Reason.PolicyViolation);
  let tooExpensive: string | undefined;
  for await (const item of stock.searchStock(filter)) {
    if (!stockItemMatches(pn.spec, item) || !free(item)) continue;
    const violation = countryViolation(workspace, item.countryCode);
    if (violation) throw new PermanentError(violation, Reason.PolicyViolation);
    const price = stockPriceProblem(pn, workspace, item.monthlyPrice, true);
    if (!price) return item;
    tooExpensive ??= `${item.numberString}: ${price}`;
  }
  const every = `checking again in ${Math.round(resyncMs / 1000)} s`;
  if (tooExpensive)
    throw new Waiting(
      `no number in stock within the price limit (cheapest match ${tooExpensive}); ${every}`,
      Reason.PriceAboveLimit,
      resyncMs,
    );
  const what = pn.spec.numberString
    ? `${pn.spec.numberString} is not in the workspace and not in stock`
    : `no number in stock matches ${JSON.stringify(filter)}`;
  throw new Waiting(`${what}; ${every}`, Reason.NumberUnavailable, resyncMs);
}

function fitsSpecAndPolicy(pn: PhoneNumber, workspace: BirdWorkspace, item: NumberStockItem): boolean {
  return (
    stockItemMatches(pn.spec, item) &&
    !countryViolation(workspace, item.countryCode) &&
    !stockPriceProblem(pn, workspace, item.monthlyPrice, false)
  );
}

function stockPriceProblem(
  pn: PhoneNumber,
  workspace: BirdWorkspace,
  price: Money,
  explain: boolean,
): string | undefined {
  const name = workspace.metadata?.name;
  return (
    priceViolation(price, pn.spec.maxMonthlyPrice, explain ? "spec.maxMonthlyPrice" : "") ??
    priceViolation(
      price,
      workspace.spec.policy?.maxPricePerNumber,
      explain ? `BirdWorkspace "${name}" spec.policy.maxPricePerNumber` : "",
    )
  );
}

/**
 * Why buying `item` would break the workspace's maxNumbers or maxMonthlySpend, or undefined. `usage` counts every
 * number the workspace pays for (records of any holder, Released ones included), reservations in flight, and numbers
 * in Bird that no record knows; a function is asked only when the workspace has a limit. Exported for
 * `bird-operator plan`.
 */
export function quotaRefusal(
  workspace: BirdWorkspace,
  counted: Usage | (() => Usage),
  item: Pick<NumberStockItem, "numberString" | "monthlyPrice">,
): string | undefined {
  const policy = workspace.spec.policy;
  // Counting walks every record of the workspace: a workspace without either limit is not counted at all.
  if (policy?.maxNumbers === undefined && !policy?.maxMonthlySpend) return undefined;
  const usage = typeof counted === "function" ? counted() : counted;
  const workspaceName = workspace.metadata?.name ?? "";
  if (policy.maxNumbers !== undefined && usage.numbers >= policy.maxNumbers) {
    return (
      `BirdWorkspace "${workspaceName}" allows ${policy.maxNumbers} numbers ` +
      `and ${usage.numbers} are paid for or being bought (Released ones count until they leave Bird); ` +
      "ask the platform team to raise spec.policy.maxNumbers or free numbers (kubectl get birdnumbers)"
    );
  }
  if (!policy?.maxMonthlySpend) return undefined;
  const violation = spendViolation(
    [...usage.prices, item.monthlyPrice],
    policy.maxMonthlySpend,
    `BirdWorkspace "${workspaceName}" spec.policy.maxMonthlySpend`,
  );
  if (!violation) return undefined;
  return violation.total
    ? `buying ${item.numberString} would bring the monthly spend to ${violation.message}`
    : `not buying ${item.numberString}: ${violation.message}`;
}

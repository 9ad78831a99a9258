import type { SendGuard } from "../../src/bird/types.js";
import type { BirdWorkspace } from "../../src/api/v1alpha1/index.js";
import { BirdApiError } from "../../src/bird/errors.js";
import type { StockItemRef } from "../../src/workspace/buy-batcher.js";
import type {
  ActivateDestinationsResult,
  EndpointSubscription,
  LongCodeNumber,
  Money,
  NumberStockItem,
  StockFilter,
} from "../../src/bird/types.js";
import { subscriptionEnded } from "../../src/bird/subscription.js";
import type { NumberExternal, NumberRef } from "../../src/controllers/phone-number/external.js";

export const PRICE: Money = { currencyCode: "EUR", amount: 100, exponent: 2 };

/** The external calls that write to Bird; the others only read. */
const WRITES = new Set(["buy", "activate", "deactivate", "cancel"]);

/** A Bird error as the client throws it, by HTTP status (0: no answer, the request may have taken effect). */
export function birdError(status: number, code?: string, details?: Record<string, unknown>): BirdApiError {
  if (status === 0)
    return new BirdApiError({
      method: "POST",
      route: "/test",
      status: 0,
      ambiguous: true,
      message: "Bird POST /test timed out",
    });
  return new BirdApiError({ method: "POST", route: "/test", status, code, details });
}

export function longCode(
  numberString: string,
  options: { activeSms?: number; provisioning?: string } = {},
): LongCodeNumber {
  const id = `n${numberString.slice(-4)}`;
  return {
    id,
    endpointId: `e${numberString.slice(-4)}`,
    numberString,
    countryCode: "US",
    type: "local",
    capabilities: { sms: { inbound: true, outbound: true } },
    createdAt: "2026-01-01T00:00:00Z",
    updatedAt: "2026-01-01T00:00:00Z",
    endpoint: {
      id: `e${numberString.slice(-4)}`,
      type: "long-code-number",
      provisioningStatus: options.provisioning ?? "provisioned",
      capabilities: [{ name: "sms", outbound: { destinationStatuses: { active: options.activeSms ?? 0 } } }],
    },
  };
}

export function stockItem(numberString: string, price: Money = PRICE): NumberStockItem {
  return {
    id: `s${numberString.slice(-4)}`,
    countryCode: "US",
    type: "local",
    numberString,
    capabilities: { sms: { inbound: true, outbound: true } },
    monthlyPrice: price,
  };
}

/**
 * NumberExternal in memory: one workspace's numbers and stock. Every call is recorded (`calls`, writes in `writes()`)
 * as "<call> <subject> [<capability> <countries>]"; `fail(call, error)` makes that call throw from then on.
 */
export class FakeNumbers implements NumberExternal {
  readonly calls: string[] = [];
  readonly numbers = new Map<string, LongCodeNumber>();
  stock: NumberStockItem[] = [];
  /** Numbers our writes changed since their last read (markChanged). */
  readonly stale = new Set<string>();
  /** What a buy answers: a provisioned number, unless told otherwise. */
  boughtProvisioning = "provisioned";
  private readonly failures = new Map<string, Error>();

  constructor(public workspace: BirdWorkspace) {}

  readonly inventory = {
    cachedByString: (numberString: string): LongCodeNumber | undefined => this.byString(numberString),
    activeNumberStrings: (): string[] =>
      [...this.numbers.values()].filter((n) => !subscriptionEnded(n)).map((n) => n.numberString),
  };

  /** Runs while a buy is in flight (before its answer): a test moves its clock there. */
  beforeBuyAnswer?: () => void;
  /** Runs while a write on a held number waits to leave: a test changes the world there. */
  beforeSend?: () => void;
  /** The number a buy answers with, when not the item's (a wrong answer). */
  boughtAs?: string;

  fail(call: string, error: Error): void {
    this.failures.set(call, error);
  }

  has(...numbers: LongCodeNumber[]): this {
    for (const number of numbers) this.numbers.set(number.id, structuredClone(number));
    return this;
  }

  writes(): string[] {
    return this.calls.filter((c) => WRITES.has(c.split(" ")[0] ?? ""));
  }

  observe(ref: NumberRef): Promise<LongCodeNumber | undefined> {
    const found = "id" in ref ? this.numbers.get(ref.id) : this.byString(ref.numberString);
    return this.call(
      "id" in ref ? `observe ${ref.id}` : `observe ${ref.numberString}${ref.uncached ? " fresh" : ""}`,
      () => found && structuredClone(found),
    );
  }

  countsCurrent(id: string): boolean {
    return !this.stale.has(id);
  }

  observeSubscription(number: LongCodeNumber): Promise<EndpointSubscription> {
    return this.call(`subscription ${number.numberString}`, () => ({
      name: "main",
      status: "active",
      price: PRICE,
      subscription: { startAt: "2026-01-01T00:00:00Z" },
    }));
  }

  refresh(): Promise<void> {
    return Promise.resolve();
  }

  awaitProvisioned(id: string): void {
    this.calls.push(`awaitProvisioned ${id}`);
  }

  pooledStock(): Promise<NumberStockItem | undefined> {
    return Promise.resolve(undefined);
  }

  async *searchStock(filter: StockFilter): AsyncIterable<NumberStockItem> {
    this.calls.push(`searchStock ${filter.countryCodes?.join(",") ?? ""}`);
    for (const item of this.stock) yield await Promise.resolve(item);
  }

  buy(item: StockItemRef): Promise<LongCodeNumber | undefined> {
    this.beforeBuyAnswer?.();
    return this.call(`buy ${item.numberString}`, () => {
      this.stock = this.stock.filter((s) => s.id !== item.id);
      const number = longCode(this.boughtAs ?? item.numberString, { provisioning: this.boughtProvisioning });
      this.numbers.set(number.id, number);
      return structuredClone(number);
    });
  }

  activate(
    number: LongCodeNumber,
    capability: string,
    countries: string[],
    guard?: SendGuard,
  ): Promise<ActivateDestinationsResult> {
    return this.call(`activate ${number.numberString} ${capability} ${countries.join(",")}`, guard, () => {
      this.count(number.id, capability, countries.length);
      return {
        results: countries.map((countryCode) => ({
          countryCode,
          capabilities: [{ name: capability, status: "active" }],
        })),
      };
    });
  }

  deactivate(number: LongCodeNumber, capability: string, countries: string[], guard?: SendGuard): Promise<void> {
    return this.call(`deactivate ${number.numberString} ${capability} ${countries.join(",")}`, guard, () =>
      this.count(number.id, capability, -countries.length),
    );
  }

  markChanged(id: string): void {
    this.stale.add(id);
  }

  cancel(number: { id?: string; endpointId: string }, guard?: SendGuard): Promise<EndpointSubscription | undefined> {
    return this.call(`cancel ${number.endpointId}`, guard, () => {
      const held = [...this.numbers.values()].find((n) => n.endpointId === number.endpointId);
      if (!held) return undefined;
      held.deprovisionAt = "2026-02-01T00:00:00Z";
      return { name: "main", status: "canceled", subscription: { canceledAt: "2026-01-15T00:00:00Z" } };
    });
  }

  private byString(numberString: string): LongCodeNumber | undefined {
    return [...this.numbers.values()].find((n) => n.numberString === numberString);
  }

  private count(id: string, capability: string, delta: number): void {
    const outbound = this.numbers.get(id)?.endpoint?.capabilities?.find((c) => c.name === capability)?.outbound;
    if (outbound?.destinationStatuses)
      outbound.destinationStatuses.active = (outbound.destinationStatuses.active ?? 0) + delta;
  }

  /** A write waits (rate limiter, retries) before it leaves: `beforeSend` runs then, and then its guard is asked. */
  private call<T>(description: string, guard: SendGuard | undefined, answer: () => T): Promise<T>;
  private call<T>(description: string, answer: () => T): Promise<T>;
  private call<T>(description: string, ...rest: [SendGuard | undefined, () => T] | [() => T]): Promise<T> {
    const [guard, answer] = rest.length === 2 ? rest : [undefined, rest[0]];
    if (rest.length === 2) this.beforeSend?.();
    const refusal = guard?.();
    if (refusal) return Promise.reject(refusal);
    this.calls.push(description);
    const failure = this.failures.get(description.split(" ")[0] ?? "");
    return failure ? Promise.reject(failure) : Promise.resolve(answer());
  }
}

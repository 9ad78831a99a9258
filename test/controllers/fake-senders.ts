import type { SendGuard } from "../../src/bird/types.js";
import type { AlphaSenderSpec, BirdWorkspace } from "../../src/api/v1alpha1/index.js";
import type {
  ActivateDestinationsResult,
  AlphaNumber,
  Destination,
  EndpointSubscription,
} from "../../src/bird/types.js";
import type { SenderExternal } from "../../src/controllers/alpha-sender/external.js";
import { birdError, PRICE } from "./fake-numbers.js";

/** The external calls that go to Bird as POSTs (a quote is a validate-only activate: it changes nothing). */
const WRITES = new Set(["quote", "activate", "deactivate", "cancel"]);

export function alphaSender(alphaString: string, activeSms = 0): AlphaNumber {
  return {
    id: `a-${alphaString}`,
    endpointId: `e-${alphaString}`,
    alphaString,
    createdAt: "2026-01-01T00:00:00Z",
    updatedAt: "2026-01-01T00:00:00Z",
    endpoint: {
      id: `e-${alphaString}`,
      type: "alphanumeric",
      provisioningStatus: "provisioned",
      capabilities: [{ name: "sms", outbound: { destinationStatuses: { active: activeSms } } }],
    },
  };
}

/**
 * SenderExternal in memory: one workspace's senders and their per-country subscriptions. Every call is recorded as
 * "<call> <alphaString> [<countries>]"; `fail(call, error)` makes that call throw from then on, `unserved` countries
 * make an activate that names them fail as Bird does (422 naming them in details.countryCodes).
 */
export class FakeSenders implements SenderExternal {
  /** Runs while a write on the held sender waits to leave: a test changes the world there. */
  beforeSend?: () => void;
  readonly calls: string[] = [];
  readonly senders = new Map<string, AlphaNumber>();
  /** Subscriptions by sender id, then country. */
  readonly subscriptions = new Map<string, Map<string, EndpointSubscription>>();
  readonly stale = new Set<string>();
  unserved: string[] = [];
  /** Countries an activate leaves inactive and unpaid (blocked: never charged), though a quote prices them. */
  uncharged: string[] = [];
  /** Countries an activate makes active with neither a price in its answer nor a subscription (yet). */
  billedLater: string[] = [];
  private readonly failures = new Map<string, Error>();

  constructor(public workspace: BirdWorkspace) {}

  readonly inventory = { cachedByString: (): undefined => undefined, activeNumberStrings: (): string[] => [] };

  fail(call: string, error: Error): void {
    this.failures.set(call, error);
  }

  has(sender: AlphaNumber, paidCountries: string[] = []): this {
    this.senders.set(sender.id, structuredClone(sender));
    this.subscriptions.set(
      sender.id,
      new Map(paidCountries.map((c) => [c, { name: c, status: "active", price: PRICE }])),
    );
    return this;
  }

  writes(): string[] {
    return this.calls.filter((c) => WRITES.has(c.split(" ")[0] ?? ""));
  }

  observe(spec: AlphaSenderSpec, knownId?: string): Promise<AlphaNumber | undefined> {
    const id = knownId ?? spec.alphaNumberId;
    const found = [...this.senders.values()].find((s) => (id ? s.id === id : s.alphaString === spec.alphaString));
    return this.call(`observe ${id ?? spec.alphaString ?? ""}`, undefined, () => found && structuredClone(found));
  }

  observeFresh(id: string): Promise<AlphaNumber> {
    this.stale.delete(id);
    return this.call(`observeFresh ${id}`, undefined, () => structuredClone(this.senders.get(id) as AlphaNumber));
  }

  countsCurrent(id: string): boolean {
    return !this.stale.has(id);
  }

  observeSubscriptions(sender: AlphaNumber): Promise<EndpointSubscription[]> {
    return this.call(`subscriptions ${sender.alphaString}`, undefined, () =>
      [...(this.subscriptions.get(sender.id)?.values() ?? [])].map((s) => structuredClone(s)),
    );
  }

  quote(sender: AlphaNumber, countries: string[]): Promise<ActivateDestinationsResult> {
    return this.call(`quote ${sender.alphaString} ${countries.join(",")}`, undefined, () => ({
      subscriptionPrices: Object.fromEntries(countries.map((c) => [c, PRICE])),
    }));
  }

  activate(sender: AlphaNumber, countries: string[], guard?: SendGuard): Promise<ActivateDestinationsResult> {
    return this.call(`activate ${sender.alphaString} ${countries.join(",")}`, guard, () => {
      const subscriptions = this.subscriptions.get(sender.id) ?? new Map<string, EndpointSubscription>();
      const charged = countries.filter((c) => !this.uncharged.includes(c) && !this.billedLater.includes(c));
      for (const country of charged) {
        if (subscriptions.get(country)?.status !== "active") this.count(sender.id, 1);
        subscriptions.set(country, { name: country, status: "active", price: PRICE });
      }
      this.subscriptions.set(sender.id, subscriptions);
      const results = countries.map((countryCode) => ({
        countryCode,
        capabilities: [{ name: "sms", status: this.uncharged.includes(countryCode) ? "inactive" : "active" }],
      }));
      return { results, subscriptionPrices: Object.fromEntries(charged.map((c) => [c, PRICE])) };
    });
  }

  deactivate(sender: AlphaNumber, countries: string[], guard?: SendGuard): Promise<Destination[]> {
    return this.call(`deactivate ${sender.alphaString} ${countries.join(",")}`, guard, () => {
      this.count(sender.id, -countries.length);
      return countries.map((countryCode) => ({ countryCode, capabilities: [{ name: "sms", status: "inactive" }] }));
    });
  }

  markChanged(id: string): void {
    this.stale.add(id);
  }

  cancel(sender: AlphaNumber, country: string, guard?: SendGuard): Promise<void> {
    return this.call(
      `cancel ${sender.alphaString} ${country}`,
      guard,
      () => void this.subscriptions.get(sender.id)?.delete(country),
    );
  }

  private count(id: string, delta: number): void {
    const statuses = this.senders.get(id)?.endpoint?.capabilities?.find((c) => c.name === "sms")
      ?.outbound?.destinationStatuses;
    if (statuses) statuses.active = (statuses.active ?? 0) + delta;
  }

  /** A write waits (rate limiter, retries) before it leaves: `beforeSend` runs then, and then its guard is asked. */
  private call<T>(description: string, guard: SendGuard | undefined, answer: () => T): Promise<T> {
    if (guard) this.beforeSend?.();
    const refusal = guard?.();
    if (refusal) return Promise.reject(refusal);
    this.calls.push(description);
    const [verb = "", , countries = ""] = description.split(" ");
    const failure = this.failures.get(verb);
    if (failure) return Promise.reject(failure);
    const refused = verb === "activate" ? countries.split(",").filter((c) => this.unserved.includes(c)) : [];
    if (refused.length) return Promise.reject(unservedError(refused));
    return Promise.resolve(answer());
  }
}

function unservedError(countryCodes: string[]): Error {
  return birdError(422, "destination-not-available", { countryCodes });
}

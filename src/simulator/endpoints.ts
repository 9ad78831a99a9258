import { randomUUID } from "node:crypto";
import type { DestinationCountry } from "./config.js";
import { ApiError } from "./errors.js";
import type { CapabilityName, ErrorBody, Money, NumberCapabilities } from "./types.js";
import { CAPABILITY_NAMES } from "./types.js";

export type DestinationState = "active" | "inactive";

export interface SubscriptionRecord {
  name: string;
  price: Money;
  id: string;
  correlationId: string;
  subscribedAt: number;
  updatedAt: number;
  startAt: number;
  endAt: number;
  canceledAt?: number;
}

interface EndpointBase {
  seq: number;
  id: string;
  workspaceId: string;
  instanceId: string;
  createdAt: number;
  updatedAt: number;
  /** Provisioning is derived from the clock, so no timers run and a delay of 0 means "at once". */
  provisionedAt: number;
  /** Per capability, the countries ever activated or deactivated; untouched countries are available. */
  destinations: Map<CapabilityName, Map<string, DestinationState>>;
  subscriptions: Map<string, SubscriptionRecord>;
  /**
   * What Bird reports beyond the simulator's own rules, set by tests (reportOnEndpoint): issue strings are an open
   * list and provisioningStatus has no published enum, so clients must take any value.
   */
  reported?: { issues?: string[]; provisioningStatus?: string };
}

export interface NumberRecord extends EndpointBase {
  kind: "long-code";
  numberString: string;
  countryCode: string;
  type: string;
  capabilities: NumberCapabilities;
  monthlyPrice: Money;
  prefix: string;
  stockItemId?: string;
  deprovisionAt?: number;
}

export interface SenderRecord extends EndpointBase {
  kind: "alpha";
  alphaString: string;
  registeredCountries: string[];
  blocked: Set<string>;
}

export type EndpointRecord = NumberRecord | SenderRecord;

/** The destination countries of the simulated world and the clock: what endpoint rules depend on. */
export interface EndpointContext {
  destinations: ReadonlyMap<string, DestinationCountry>;
  alphaUnsupported: ReadonlySet<string>;
  now(): number;
}

export function addMonth(time: number): number {
  const date = new Date(time);
  date.setUTCMonth(date.getUTCMonth() + 1);
  return date.getTime();
}

export function newSubscription(name: string, price: Money, now: number): SubscriptionRecord {
  const id = randomUUID();
  return { name, price, id, correlationId: id, subscribedAt: now, updatedAt: now, startAt: now, endAt: addMonth(now) };
}

export function isProvisioned(endpoint: EndpointRecord, now: number): boolean {
  return now >= endpoint.provisionedAt;
}

export function isMainCanceled(endpoint: EndpointRecord): boolean {
  return endpoint.kind === "long-code" && endpoint.subscriptions.get("main")?.canceledAt !== undefined;
}

export function outboundCapabilities(endpoint: EndpointRecord): CapabilityName[] {
  if (endpoint.kind === "alpha") return ["sms"];
  return CAPABILITY_NAMES.filter((name) => endpoint.capabilities[name]?.outbound === true);
}

/** Alpha senders cannot reach some countries at all (USA, Canada); long code numbers reach every known country. */
export function canServe(context: EndpointContext, endpoint: EndpointRecord, country: string): boolean {
  if (!context.destinations.has(country)) return false;
  return endpoint.kind !== "alpha" || !context.alphaUnsupported.has(country);
}

export function isBlocked(endpoint: EndpointRecord, capability: string, country: string): boolean {
  return endpoint.kind === "alpha" && capability === "sms" && endpoint.blocked.has(country);
}

export function destinationState(
  endpoint: EndpointRecord,
  capability: CapabilityName,
  country: string,
): DestinationState | undefined {
  return endpoint.destinations.get(capability)?.get(country);
}

function setDestination(
  endpoint: EndpointRecord,
  capability: CapabilityName,
  country: string,
  state: DestinationState,
): void {
  let states = endpoint.destinations.get(capability);
  if (!states) endpoint.destinations.set(capability, (states = new Map<string, DestinationState>()));
  states.set(country, state);
}

function refusal(code: string, message: string, details: Record<string, unknown>): ErrorBody {
  return { code, message, details };
}

/** Why Bird would refuse to activate or deactivate these destinations, or undefined when it would not. */
export function destinationRefusal(
  context: EndpointContext,
  endpoint: EndpointRecord,
  capability: string,
  countries: readonly string[],
): ErrorBody | undefined {
  if (!(outboundCapabilities(endpoint) as string[]).includes(capability)) {
    return refusal("capability-is-not-supported", `Endpoint ${endpoint.id} does not support outbound ${capability}`, {
      capability,
    });
  }
  const unserviceable = countries.filter((country) => !canServe(context, endpoint, country));
  if (unserviceable.length > 0) {
    return refusal("destination-not-available", `Endpoint ${endpoint.id} cannot serve ${unserviceable.join(", ")}`, {
      countryCodes: unserviceable,
    });
  }
  return undefined;
}

/** The monthly price of each country that would be charged: blocked countries never are; long codes pay via `main`. */
export function subscriptionPrices(
  context: EndpointContext,
  endpoint: EndpointRecord,
  capability: string,
  countries: readonly string[],
): Record<string, Money> {
  const prices: Record<string, Money> = {};
  for (const country of countries) {
    if (isBlocked(endpoint, capability, country)) continue;
    if (endpoint.kind === "long-code") {
      prices[country] = { currencyCode: endpoint.monthlyPrice.currencyCode, amount: 0, exponent: -6 };
    } else {
      const price = context.destinations.get(country)?.alphaPrice;
      if (price) prices[country] = { ...price };
    }
  }
  return prices;
}

/** Activates countries the caller has checked with `destinationRefusal`; blocked ones stay inactive. */
export function activateDestinations(
  context: EndpointContext,
  endpoint: EndpointRecord,
  capability: CapabilityName,
  countries: readonly string[],
): void {
  const now = context.now();
  for (const country of countries) {
    const blocked = isBlocked(endpoint, capability, country);
    setDestination(endpoint, capability, country, blocked ? "inactive" : "active");
    if (endpoint.kind === "alpha" && !blocked) ensureSubscription(context, endpoint, country, now);
  }
  endpoint.updatedAt = now;
}

function ensureSubscription(context: EndpointContext, endpoint: SenderRecord, country: string, now: number): void {
  const existing = endpoint.subscriptions.get(country);
  if (existing && existing.canceledAt === undefined) return;
  const price = context.destinations.get(country)?.alphaPrice ?? { currencyCode: "EUR", amount: 0, exponent: -6 };
  endpoint.subscriptions.set(country, newSubscription(country, { ...price }, now));
}

export function deactivateDestinations(
  context: EndpointContext,
  endpoint: EndpointRecord,
  capability: CapabilityName,
  countries: readonly string[],
): void {
  for (const country of countries) setDestination(endpoint, capability, country, "inactive");
  endpoint.updatedAt = context.now();
}

/** Cancels a subscription; cancelling a cancelled one changes nothing. */
export function cancelSubscription(
  context: EndpointContext,
  endpoint: EndpointRecord,
  name: string,
): SubscriptionRecord {
  const subscription = endpoint.subscriptions.get(name);
  if (!subscription) {
    throw new ApiError(404, "not-found", `Subscription ${name} of endpoint ${endpoint.id} not found`, {
      endpointId: endpoint.id,
      subscriptionName: name,
    });
  }
  if (subscription.canceledAt !== undefined) return subscription;
  const now = context.now();
  subscription.canceledAt = now;
  subscription.updatedAt = now;
  endpoint.updatedAt = now;
  if (endpoint.kind === "long-code" && name === "main") endpoint.deprovisionAt = subscription.endAt;
  if (endpoint.kind === "alpha" && destinationState(endpoint, "sms", name) !== undefined) {
    setDestination(endpoint, "sms", name, "inactive");
  }
  return subscription;
}

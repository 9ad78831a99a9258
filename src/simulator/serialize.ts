import {
  canServe,
  destinationState,
  isBlocked,
  isMainCanceled,
  isProvisioned,
  outboundCapabilities,
  type EndpointContext,
  type EndpointRecord,
  type NumberRecord,
  type SenderRecord,
  type SubscriptionRecord,
} from "./endpoints.js";
import type { StockRecord } from "./stock.js";
import type {
  AlphaNumber,
  CapabilityName,
  Destination,
  Endpoint,
  EndpointSubscription,
  LongCodeNumber,
  NumberStockItem,
} from "./types.js";
import { CAPABILITY_NAMES } from "./types.js";

type Capability = NonNullable<Endpoint["capabilities"]>[number];
type DestinationStatuses = NonNullable<NonNullable<Capability["outbound"]>["destinationStatuses"]>;

const iso = (time: number): string => new Date(time).toISOString();

/** Becoming provisioned is a change, so it moves `updatedAt` even though nothing wrote the record. */
function effectiveUpdatedAt(endpoint: EndpointRecord, now: number): number {
  return isProvisioned(endpoint, now) ? Math.max(endpoint.updatedAt, endpoint.provisionedAt) : endpoint.updatedAt;
}

/**
 * Counts every country of the world by state: touched countries by their state, untouched ones as available,
 * or unavailable when the endpoint can never serve them (blocked, or not supported for alpha senders).
 */
export function destinationStatuses(
  context: EndpointContext,
  endpoint: EndpointRecord,
  capability: CapabilityName,
): DestinationStatuses {
  let active = 0;
  let inactive = 0;
  let unavailable = 0;
  const states = endpoint.destinations.get(capability);
  for (const country of context.destinations.keys()) {
    const state = states?.get(country);
    if (state === "active") active++;
    else if (state === "inactive") inactive++;
    else if (!canServe(context, endpoint, country) || isBlocked(endpoint, capability, country)) unavailable++;
  }
  const available = context.destinations.size - active - inactive - unavailable;
  return { active, inactive, available, unavailable };
}

function liveIssues(endpoint: EndpointRecord): string[] {
  return [...(isMainCanceled(endpoint) ? ["subscription-is-not-active"] : []), ...(endpoint.reported?.issues ?? [])];
}

function numberCapability(context: EndpointContext, endpoint: NumberRecord, name: CapabilityName): Capability {
  const flags = endpoint.capabilities[name];
  const now = context.now();
  const live = isProvisioned(endpoint, now) && !isMainCanceled(endpoint);
  const status = live ? "active" : "inactive";
  const unsupported = { status: "inactive", issues: ["capability-is-not-supported"] };
  return {
    name,
    inbound: flags?.inbound ? { status, issues: liveIssues(endpoint) } : unsupported,
    outbound: flags?.outbound
      ? {
          status,
          destinationStatuses: destinationStatuses(context, endpoint, name),
          supportsDestinations: true,
          issues: liveIssues(endpoint),
        }
      : { ...unsupported, supportsDestinations: false },
  };
}

function senderCapability(context: EndpointContext, endpoint: SenderRecord): Capability {
  const states = endpoint.destinations.get("sms");
  const anyActive = [...(states?.values() ?? [])].includes("active");
  const blockedRequested = [...(states?.keys() ?? [])].some((country) => endpoint.blocked.has(country));
  return {
    name: "sms",
    outbound: {
      status: anyActive ? "active" : "inactive",
      destinationStatuses: destinationStatuses(context, endpoint, "sms"),
      supportsDestinations: true,
      issues: blockedRequested ? ["compliance-requirement-not-satisfied"] : [],
    },
  };
}

export function serializeEndpoint(context: EndpointContext, endpoint: EndpointRecord): Endpoint {
  const now = context.now();
  const capabilities =
    endpoint.kind === "alpha"
      ? [senderCapability(context, endpoint)]
      : CAPABILITY_NAMES.filter(
          (name) => endpoint.capabilities[name]?.inbound || endpoint.capabilities[name]?.outbound,
        ).map((name) => numberCapability(context, endpoint, name));
  return {
    id: endpoint.id,
    type: endpoint.kind === "alpha" ? "alphanumeric" : "long-code-number",
    instanceId: endpoint.instanceId,
    name: endpoint.kind === "alpha" ? endpoint.alphaString : endpoint.numberString,
    capabilities,
    dependencies: [],
    issues: liveIssues(endpoint),
    provisioningStatus:
      endpoint.reported?.provisioningStatus ?? (isProvisioned(endpoint, now) ? "provisioned" : "pending"),
    createdAt: iso(endpoint.createdAt),
    updatedAt: iso(effectiveUpdatedAt(endpoint, now)),
  };
}

export function serializeNumber(context: EndpointContext, number: NumberRecord): LongCodeNumber {
  const now = context.now();
  const updatedAt = iso(effectiveUpdatedAt(number, now));
  const serialized: LongCodeNumber = {
    id: number.id,
    endpointId: number.id,
    numberString: number.numberString,
    countryCode: number.countryCode,
    type: number.type,
    capabilities: structuredClone(number.capabilities),
    createdAt: iso(number.createdAt),
    updatedAt,
    order: {
      countryCode: number.countryCode,
      type: number.type,
      capabilities: CAPABILITY_NAMES.filter(
        (name) => number.capabilities[name]?.inbound || number.capabilities[name]?.outbound,
      ),
      prefix: number.prefix,
      status: isProvisioned(number, now) ? "completed" : "processing",
      createdAt: iso(number.createdAt),
      updatedAt,
    },
    endpoint: serializeEndpoint(context, number),
  };
  if (number.deprovisionAt !== undefined) serialized.deprovisionAt = iso(number.deprovisionAt);
  return serialized;
}

export function serializeSender(context: EndpointContext, sender: SenderRecord): AlphaNumber {
  return {
    id: sender.id,
    endpointId: sender.id,
    alphaString: sender.alphaString,
    createdAt: iso(sender.createdAt),
    updatedAt: iso(effectiveUpdatedAt(sender, context.now())),
    order: {
      countryCodes: [...sender.registeredCountries],
      status: "completed",
      createdAt: iso(sender.createdAt),
      updatedAt: iso(sender.createdAt),
    },
    endpoint: serializeEndpoint(context, sender),
  };
}

export function serializeEndpointRecord(
  context: EndpointContext,
  endpoint: EndpointRecord,
): LongCodeNumber | AlphaNumber {
  return endpoint.kind === "alpha" ? serializeSender(context, endpoint) : serializeNumber(context, endpoint);
}

function destinationIssues(endpoint: EndpointRecord, capability: CapabilityName, country: string): string[] {
  if (isBlocked(endpoint, capability, country)) return ["compliance-requirement-not-satisfied"];
  return liveIssues(endpoint);
}

export function serializeDestination(context: EndpointContext, endpoint: EndpointRecord, country: string): Destination {
  return {
    name: context.destinations.get(country)?.name ?? country,
    countryCode: country,
    immutable: false,
    capabilities: outboundCapabilities(endpoint).map((name) => ({
      name,
      status: destinationState(endpoint, name, country) === "active" ? "active" : "inactive",
      issues: destinationIssues(endpoint, name, country),
    })),
    isBlockedForCapability: { voice: isBlocked(endpoint, "voice", country), sms: isBlocked(endpoint, "sms", country) },
  };
}

export function serializeSubscription(subscription: SubscriptionRecord): EndpointSubscription {
  const canceled = subscription.canceledAt !== undefined;
  return {
    name: subscription.name,
    status: canceled ? "inactive" : "active",
    price: { ...subscription.price },
    subscription: {
      id: subscription.id,
      correlationId: subscription.correlationId,
      status: canceled ? "canceled" : "active",
      subscribedAt: iso(subscription.subscribedAt),
      updatedAt: iso(subscription.updatedAt),
      ...(canceled ? { canceledAt: iso(subscription.canceledAt ?? 0) } : {}),
      startAt: iso(subscription.startAt),
      endAt: iso(subscription.endAt),
    },
  };
}

export function serializeStockItem(record: StockRecord): NumberStockItem {
  return structuredClone(record.item);
}

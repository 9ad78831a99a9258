import { parsePhoneNumberFromString } from "libphonenumber-js";
import type { PhoneNumber, PhoneNumberDestinationStatus, PhoneNumberStatus } from "../../api/v1alpha1/index.js";
import type { LongCodeNumber, NumberStockItem, StockFilter } from "../../bird/types.js";
import { boundedList, boundedOptional } from "../bounded.js";

/**
 * Stock search filters for a PhoneNumber's spec (exact numbers search their own digits as the prefix). Bird takes a
 * prefix only within a country (422 otherwise): a number of no known country is found by stockItemMatches alone.
 */
export function stockFilter(spec: PhoneNumber["spec"]): StockFilter {
  const countryCode = spec.countryCode ?? (spec.numberString ? countryOf(spec.numberString) : undefined);
  return {
    countryCodes: countryCode ? [countryCode] : undefined,
    prefix: countryCode ? (spec.numberString ?? spec.prefix) : undefined,
    types: spec.type ? [spec.type] : undefined,
    features: requiredCapabilities(spec).length ? requiredCapabilities(spec) : undefined,
  };
}

/** The ISO country of an E.164 number, from libphonenumber's metadata. */
export function countryOf(numberString: string): string | undefined {
  return parsePhoneNumberFromString(numberString)?.country;
}

/** Whether a stock item fits everything the spec asks for (the search filters are a first cut only). */
export function stockItemMatches(spec: PhoneNumber["spec"], item: NumberStockItem): boolean {
  if (spec.numberString && item.numberString !== spec.numberString) return false;
  if (spec.countryCode && item.countryCode !== spec.countryCode) return false;
  if (spec.type && item.type !== spec.type) return false;
  if (spec.prefix && !item.numberString.startsWith(spec.prefix)) return false;
  const capabilities = capabilitiesOf(item.capabilities);
  return requiredCapabilities(spec).every((c) => capabilities.includes(c));
}

/**
 * What a number bought for this spec must be able to do: spec.capabilities, plus outbound on every channel it has
 * destinations for (a number without sms-outbound can never serve sms destinations, so it is not bought for them).
 */
export function requiredCapabilities(spec: PhoneNumber["spec"]): string[] {
  const fromDestinations = (spec.destinations ?? []).map((d) => `${d.capability}-outbound`);
  return [...new Set([...(spec.capabilities ?? []), ...fromDestinations])].sort();
}

/** Bird's `{sms: {inbound, outbound}}` flags as the CRD's `sms-outbound` style list. */
export function capabilitiesOf(flags: NumberStockItem["capabilities"] | undefined): string[] {
  const list: string[] = [];
  for (const name of ["sms", "voice", "mms"] as const) {
    const f = flags?.[name];
    if (f?.inbound) list.push(`${name}-inbound`);
    if (f?.outbound) list.push(`${name}-outbound`);
  }
  return list;
}

/** Desired destination countries per capability, deduplicated and sorted. */
export function desiredDestinations(spec: PhoneNumber["spec"]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const d of spec.destinations ?? [])
    map.set(d.capability, [...new Set([...(map.get(d.capability) ?? []), ...d.countryCodes])].sort());
  return map;
}

export interface DestinationPlan {
  activate: Map<string, string[]>;
  deactivate: Map<string, string[]>;
}

/**
 * What to change so the number's destinations match the spec. Only countries the operator manages (in the spec now
 * or recorded active in status from an earlier spec) are touched. Bird shows no per-country list for a number, only the
 * count of active destinations per capability: a count below what we activated means someone deactivated one out
 * of band, and re-activating the whole desired set (idempotent) repairs it.
 */
export function planDestinations(
  spec: PhoneNumber["spec"],
  recorded: PhoneNumberDestinationStatus[],
  number: LongCodeNumber,
  /** False right after our own write: the cached counts predate it and say nothing about drift. */
  countsCurrent = true,
): DestinationPlan {
  const desired = desiredDestinations(spec);
  const activate = new Map<string, string[]>();
  const deactivate = new Map<string, string[]>();
  const capabilities = new Set([...desired.keys(), ...recorded.map((r) => r.capability)]);
  for (const capability of capabilities) {
    const want = desired.get(capability) ?? [];
    const active = recorded
      .filter((r) => r.capability === capability && r.status === "active")
      .map((r) => r.countryCode);
    const observedActive = activeCount(number, capability);
    const drifted = countsCurrent && observedActive !== undefined && observedActive < active.length;
    const missing = drifted ? want : want.filter((c) => !active.includes(c));
    // A country that never became active (Bird refused it, or it is still pending) has nothing to deactivate.
    const removed = active.filter((c) => !want.includes(c));
    if (missing.length) activate.set(capability, missing);
    if (removed.length) deactivate.set(capability, removed);
  }
  return { activate, deactivate };
}

export function activeCount(number: LongCodeNumber, capability: string): number | undefined {
  return number.endpoint?.capabilities?.find((c) => c.name === capability)?.outbound?.destinationStatuses?.active;
}

/** Provisioning states known to pass by themselves: the number is polled until it is provisioned. */
const IN_PROGRESS = new Set(["pending", "provisioning", "in-progress", "processing"]);

/** Where Bird's provisioning of the number stands: done, under way, or a state this operator does not know. */
export function provisioningState(number: LongCodeNumber): "provisioned" | "in-progress" | "unknown" {
  const value = number.endpoint?.provisioningStatus;
  if (value === "provisioned") return "provisioned";
  return value !== undefined && IN_PROGRESS.has(value) ? "in-progress" : "unknown";
}

/** Everything status reports about the number itself, straight from Bird (unknown values pass through, bounded). */
export function observedStatus(number: LongCodeNumber): Partial<PhoneNumberStatus> {
  return {
    numberId: boundedOptional(number.id),
    endpointId: boundedOptional(number.endpointId),
    numberString: boundedOptional(number.numberString, 32),
    countryCode: boundedOptional(number.countryCode, 8),
    type: boundedOptional(number.type, 64),
    provisioningStatus: boundedOptional(number.endpoint?.provisioningStatus),
    issues: boundedList(number.endpoint?.issues ?? []),
    capabilities: capabilitiesOf(number.capabilities),
    deprovisionAt: number.deprovisionAt,
  };
}

/** Destination rows for status, one per (capability, country) the spec manages. */
export function destinationRows(
  desired: Map<string, string[]>,
  statusOf: (capability: string, country: string) => string | undefined,
): PhoneNumberDestinationStatus[] {
  const rows: PhoneNumberDestinationStatus[] = [];
  for (const [capability, countries] of desired) {
    for (const countryCode of countries)
      rows.push({ capability, countryCode, status: statusOf(capability, countryCode) ?? "pending" });
  }
  return rows;
}

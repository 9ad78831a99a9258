import { API_VERSION } from "../../src/api/v1alpha1/index.js";
import type { Fixture } from "../../test/support/fixtures.js";

/**
 * Country and type pairs the simulator stocks, each with an outbound capability its numbers really have (European
 * geographic and national numbers only call; toll-free ones there cannot call out at all, so they are left out:
 * a destination could never become active).
 */
export const NUMBER_KINDS = [
  { countryCode: "US", type: "local", capability: "sms" },
  { countryCode: "US", type: "toll-free", capability: "sms" },
  { countryCode: "CA", type: "local", capability: "sms" },
  { countryCode: "CA", type: "toll-free", capability: "sms" },
  { countryCode: "GB", type: "local", capability: "voice" },
  { countryCode: "GB", type: "mobile", capability: "sms" },
  { countryCode: "GB", type: "national", capability: "voice" },
  { countryCode: "NL", type: "local", capability: "voice" },
  { countryCode: "NL", type: "mobile", capability: "sms" },
  { countryCode: "NL", type: "national", capability: "voice" },
  { countryCode: "DE", type: "local", capability: "voice" },
  { countryCode: "DE", type: "mobile", capability: "sms" },
  { countryCode: "DE", type: "national", capability: "voice" },
] as const;

export type NumberKind = (typeof NUMBER_KINDS)[number];

/** Destination countries for numbers, one per number in rotation; all among the simulator's 25. */
const NUMBER_DESTINATIONS = ["US", "CA", "GB", "NL", "DE", "BE", "FR", "ES", "IT"];
/** Alpha senders cannot reach the USA or Canada; none of these is blocked for the bench's senders. */
export const SENDER_COUNTRIES = [
  "GB",
  "NL",
  "DE",
  "BE",
  "FR",
  "ES",
  "IT",
  "PT",
  "IE",
  "AT",
  "CH",
  "SE",
  "NO",
  "DK",
  "FI",
  "PL",
];
/** Countries the reaction scenario adds, one new one per change. */
export const EXTRA_DESTINATIONS = ["PT", "IE", "AT", "CH", "SE", "NO", "DK", "FI", "PL", "AU"];

export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
};

export function numberKind(index: number): NumberKind {
  return NUMBER_KINDS[index % NUMBER_KINDS.length] as NumberKind;
}

export function pad(index: number, width = 5): string {
  return String(index).padStart(width, "0");
}

/** A PhoneNumber to buy: country and type from the rotation, one destination country. */
export function phoneNumberToBuy(fixture: Fixture, index: number): Manifest {
  const kind = numberKind(index);
  return {
    apiVersion: API_VERSION,
    kind: "PhoneNumber",
    metadata: { name: `pn-${pad(index)}`, namespace: fixture.namespace },
    spec: {
      workspaceRef: { name: fixture.workspace },
      countryCode: kind.countryCode,
      type: kind.type,
      destinations: [
        { capability: kind.capability, countryCodes: [NUMBER_DESTINATIONS[index % NUMBER_DESTINATIONS.length]] },
      ],
    },
  };
}

/** A PhoneNumber that adopts a number the workspace already owns. */
export function phoneNumberToAdopt(fixture: Fixture, index: number, numberString: string): Manifest {
  return {
    apiVersion: API_VERSION,
    kind: "PhoneNumber",
    metadata: { name: `pn-${pad(index)}`, namespace: fixture.namespace },
    spec: { workspaceRef: { name: fixture.workspace }, numberString },
  };
}

export function senderName(index: number): string {
  return `BENCH${pad(index, 4)}`;
}

export function senderCountries(index: number, count: number): string[] {
  return Array.from(
    { length: count },
    (_, i) => SENDER_COUNTRIES[(index + i) % SENDER_COUNTRIES.length] ?? "GB",
  ).sort();
}

export function alphaSender(fixture: Fixture, index: number, countries: number): Manifest {
  return {
    apiVersion: API_VERSION,
    kind: "AlphaSender",
    metadata: { name: `as-${pad(index, 4)}`, namespace: fixture.namespace },
    spec: {
      workspaceRef: { name: fixture.workspace },
      alphaString: senderName(index),
      countries: senderCountries(index, countries),
    },
  };
}

export function keyOf(manifest: Manifest): string {
  return `${manifest.metadata.namespace}/${manifest.metadata.name}`;
}

/** Interleaves two lists (a, b, a, b, ...), so a mixed apply does not send every sender last. */
export function interleave<T>(a: readonly T[], b: readonly T[]): T[] {
  const out: T[] = [];
  const ratio = b.length ? a.length / b.length : Infinity;
  let j = 0;
  for (let i = 0; i < a.length; i++) {
    out.push(a[i] as T);
    while (j < b.length && (j + 1) * ratio <= i + 1) out.push(b[j++] as T);
  }
  while (j < b.length) out.push(b[j++] as T);
  return out;
}

import type { components, operations } from "./schema.js";

type Schemas = components["schemas"];

export type { Money } from "./money.js";
export type LongCodeNumber = Schemas["LongCodeNumber"];
export type AlphaNumber = Schemas["AlphaNumber"];
export type NumberStockItem = Schemas["NumberStockItem"];
export type NumberCapabilities = Schemas["NumberCapabilities"];
export type Endpoint = Schemas["Endpoint"];
export type EndpointCapability = Schemas["Capability"];
export type Destination = Schemas["Destination"];
export type EndpointSubscription = Schemas["EndpointSubscription"];
export type Subscription = Schemas["Subscription"];
export type BirdErrorBody = Schemas["Error"];
export type NumberType = Schemas["NumberType"];

/** One page of a Bird list; no `nextPageToken` means it is the last. */
export interface Page<T> {
  results: T[];
  nextPageToken?: string;
}

export interface PageRequest {
  /** 1..99; Bird's default is 10. */
  limit?: number;
  pageToken?: string;
}

/**
 * Stock search filters. `types` is typed loosely on purpose: the values come from custom resources, and Bird
 * (with a 422) is the judge of what it accepts.
 */
export interface StockFilter {
  countryCodes?: string[];
  /** Full international form (`+1212`); Bird requires countryCodes with it. */
  prefix?: string;
  types?: string[];
  features?: string[];
  testing?: boolean;
}

export type NumberQuery = Pick<
  NonNullable<operations["listLongCodeNumbers"]["parameters"]["query"]>,
  "numberString" | "countryCodes" | "reverse"
>;

/**
 * Asked right before a request leaves: after the wait for the rate limiter and again before each retry. An error
 * stops the request unsent and is thrown to the caller; undefined lets it go. A leader check belongs here.
 */
export type SendGuard = () => Error | undefined;

export interface SendOptions {
  guard?: SendGuard;
}

export type BuyOptions = SendOptions;

/** The answer of `destinations/activate`: prices when validating, the resulting destinations otherwise. */
export interface ActivateDestinationsResult {
  subscriptionPrices?: Record<string, Schemas["Money"]>;
  results?: Destination[];
}

import type { components } from "../bird/schema.js";
import type { Logger } from "../log.js";
import type { SimulatorConfig } from "./config.js";

type Schemas = components["schemas"];
export type Money = Schemas["Money"];
export type NumberCapabilities = Schemas["NumberCapabilities"];
export type NumberStockItem = Schemas["NumberStockItem"];
export type LongCodeNumber = Schemas["LongCodeNumber"];
export type AlphaNumber = Schemas["AlphaNumber"];
export type Endpoint = Schemas["Endpoint"];
export type Destination = Schemas["Destination"];
export type EndpointSubscription = Schemas["EndpointSubscription"];
export type ActivateDestinationsResponse = Schemas["ActivateDestinationsResponse"];
export type ErrorBody = Schemas["Error"];
export type NumberType = Schemas["NumberType"];

export const NUMBER_TYPES: readonly NumberType[] = ["local", "mobile", "toll-free", "national"];
export type CapabilityName = "sms" | "voice" | "mms";
export const CAPABILITY_NAMES: readonly CapabilityName[] = ["sms", "voice", "mms"];

/** Who may call: one access key per workspace, and the organization that workspace belongs to. */
export interface WorkspaceIdentity {
  organizationId: string;
  workspaceId: string;
  accessKey: string;
}

export interface RateLimitSettings {
  enabled: boolean;
  getPerSecond: number;
  postPerSecond: number;
  /**
   * How Bird counts (undocumented): `bucket` refills continuously and holds a second's worth, so a burst after a quiet
   * spell can pass more than the rate within one sliding second; `sliding` admits at most the rate in ANY sliding
   * second, counting requests it processed (a stricter Bird).
   */
  window: "bucket" | "sliding";
  /** Requests per second another client of the same workspace spends from the same budget (e.g. a second operator). */
  sharedGetPerSecond: number;
  sharedPostPerSecond: number;
}

export interface FaultSettings {
  /** Added to every answer in scope. */
  latencyMs?: number;
  /** Uniform extra delay in [0, jitterMs). */
  jitterMs?: number;
  /** Share (0..1) of requests answered 500 or 503 without being processed. */
  errorRate?: number;
  /** The next `count` requests in scope get 429 without being processed; counts down. */
  rateLimitBurst?: { count: number };
  /** Share of requests processed and then answered by destroying the connection. */
  resetRate?: number;
  /** Share of 200/201 answers processed and then sent as truncated JSON. */
  malformedRate?: number;
  /** Restrict faults to these routes: a path template, `METHOD template`, or an operationId. Empty/absent = all. */
  routes?: string[];
  /** Seed for the fault dice, for reproducible runs. */
  seed?: number;
}

export interface SimulatorOptions {
  port?: number;
  host?: string;
  organizationId?: string;
  workspaceId?: string;
  accessKey?: string;
  extraWorkspaces?: WorkspaceIdentity[];
  config?: SimulatorConfig;
  provisioningDelayMs?: number;
  rateLimits?: Partial<RateLimitSettings>;
  faults?: FaultSettings;
  validateResponses?: boolean;
  /** How many recent calls `/_simulator/calls` keeps. */
  callLogSize?: number;
  /**
   * How long an idle connection stays open; Node's 5 s by default. Load balancers in front of real APIs keep theirs
   * for a minute or more, so a client frozen for seconds can find its old connection still open.
   */
  keepAliveMs?: number;
  /**
   * Bird's clock against ours, in milliseconds: -2000 = Bird is 2 s behind. Every timestamp Bird writes
   * (`createdAt`, `updatedAt`, subscription dates) and its provisioning delay follow that clock.
   */
  clockSkewMs?: number;
  /**
   * Our assumption, not Bird's documented behaviour: a buy refused for items that cannot be sold answers 422
   * `stock-item-unavailable` naming them in `details.numberStockItemIds`. Default false: the plain documented
   * `{code, message}` 422, which says nothing about which item.
   */
  namesRefusedStockItems?: boolean;
  logger?: Logger;
}

export const DEFAULT_ORGANIZATION_ID = "11111111-1111-4111-8111-111111111111";
export const DEFAULT_WORKSPACE_ID = "22222222-2222-4222-8222-222222222222";
export const DEFAULT_ACCESS_KEY = "demo-access-key";
export const DEFAULT_PROVISIONING_DELAY_MS = 200;

export interface PurchaseRecord {
  time: string;
  organizationId: string;
  workspaceId: string;
  stockItemId: string;
  numberId: string;
  numberString: string;
  countryCode: string;
  type: string;
  price: Money;
}

export interface ResponseViolation {
  time: string;
  method: string;
  route: string;
  status: number;
  errors: string[];
}

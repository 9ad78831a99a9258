import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse as parseYaml } from "yaml";
import {
  DEFAULT_ALPHA_UNSUPPORTED,
  DEFAULT_COUNT_PER_TYPE,
  DEFAULT_DESTINATIONS,
  DEFAULT_SEED,
  DEFAULT_SENDERS,
  DEFAULT_STOCK,
} from "./defaults.js";
import type { Money, NumberCapabilities, NumberType } from "./types.js";

/** A price as a Money object, or a plain number in the country's currency units (1.5 = 1.50 EUR). */
export type PriceInput = number | Money;

export interface StockTypeConfig {
  /** Full international form, e.g. `+1212`. Items are spread evenly over the prefixes. */
  prefixes: string[];
  count?: number;
  monthlyPrice: PriceInput;
  capabilities?: NumberCapabilities;
}

export interface CountryStockConfig {
  /** Country calling code without `+`, e.g. `1`, `44`. */
  callingCode: string;
  /** Digits after the calling code. */
  nationalLength: number;
  /** Currency of plain-number prices (default EUR). */
  currency?: string;
  /** Items per type unless the type sets its own `count`. */
  count?: number;
  types: Partial<Record<NumberType, StockTypeConfig>>;
  /** Test numbers, returned only with `testing=true`, free of charge. */
  testing?: { prefixes: string[]; count: number; type?: NumberType };
}

export interface DestinationCountryConfig {
  name: string;
  alphaPrice: PriceInput;
}

export interface SenderConfig {
  alphaString: string;
  id?: string;
  /** Only this workspace gets the sender; absent = every workspace. */
  workspaceId?: string;
  /** Destinations active (with their subscription) from the start. */
  activeCountries?: string[];
  /** Countries where compliance blocks the sender: activating them leaves them inactive with an issue. */
  blockedCountries?: string[];
}

export interface SimulatorConfig {
  seed?: number;
  stock?: {
    countPerType?: number;
    /** Sold items are replaced by fresh ones of the same country, type and prefix (default true). */
    replenish?: boolean;
    /** Adds countries or replaces the default entry of a country; `null` removes a default country. */
    countries?: Record<string, CountryStockConfig | null>;
  };
  /** Adds or replaces destination countries (the countries endpoints can send to). */
  destinations?: Record<string, DestinationCountryConfig>;
  alphaUnsupportedCountries?: string[];
  /** Replaces the default senders. */
  senders?: SenderConfig[];
}

export interface DestinationCountry {
  name: string;
  alphaPrice: Money;
}

export interface ResolvedConfig {
  seed: number;
  countPerType: number;
  replenish: boolean;
  countries: Map<string, CountryStockConfig>;
  destinations: Map<string, DestinationCountry>;
  alphaUnsupported: Set<string>;
  senders: SenderConfig[];
}

export function toMoney(price: PriceInput, currency = "EUR"): Money {
  if (typeof price !== "number") return { ...price };
  return { currencyCode: currency, amount: Math.round(price * 1_000_000), exponent: -6 };
}

export function resolveConfig(config: SimulatorConfig = {}): ResolvedConfig {
  const countries = new Map(Object.entries(DEFAULT_STOCK));
  for (const [code, entry] of Object.entries(config.stock?.countries ?? {})) {
    if (entry === null) countries.delete(code);
    else countries.set(code, entry);
  }
  const destinations = new Map<string, DestinationCountry>();
  for (const [code, entry] of Object.entries({ ...DEFAULT_DESTINATIONS, ...config.destinations })) {
    destinations.set(code, { name: entry.name, alphaPrice: toMoney(entry.alphaPrice) });
  }
  return {
    seed: config.seed ?? DEFAULT_SEED,
    countPerType: config.stock?.countPerType ?? DEFAULT_COUNT_PER_TYPE,
    replenish: config.stock?.replenish ?? true,
    countries,
    destinations,
    alphaUnsupported: new Set(config.alphaUnsupportedCountries ?? DEFAULT_ALPHA_UNSUPPORTED),
    senders: config.senders ?? DEFAULT_SENDERS,
  };
}

export const COUNTRY = { type: "string", pattern: "^[A-Z]{2}$" };

/** One alpha sender, as the config file and the control API's `POST /_simulator/senders` both take it. */
export const SENDER_SCHEMA = {
  type: "object",
  required: ["alphaString"],
  additionalProperties: false,
  properties: {
    alphaString: { type: "string", minLength: 1, maxLength: 11 },
    id: { type: "string", minLength: 1, maxLength: 64 },
    workspaceId: { type: "string" },
    activeCountries: { type: "array", items: COUNTRY },
    blockedCountries: { type: "array", items: COUNTRY },
  },
};
const PREFIX = { type: "string", pattern: "^\\+[0-9]+$" };
const PRICE = {
  oneOf: [
    { type: "number", minimum: 0 },
    {
      type: "object",
      required: ["currencyCode", "amount", "exponent"],
      properties: { currencyCode: { type: "string" }, amount: { type: "integer" }, exponent: { type: "integer" } },
    },
  ],
};
const DIRECTIONS = {
  type: "object",
  required: ["inbound", "outbound"],
  properties: { inbound: { type: "boolean" }, outbound: { type: "boolean" } },
};
const NUMBER_TYPE = { enum: ["local", "mobile", "toll-free", "national"] };
const COUNT = { type: "integer", minimum: 0, maximum: 1_000_000 };

const CONFIG_SCHEMA = {
  type: "object",
  additionalProperties: false,
  properties: {
    seed: { type: "integer" },
    stock: {
      type: "object",
      additionalProperties: false,
      properties: {
        countPerType: COUNT,
        replenish: { type: "boolean" },
        countries: {
          type: "object",
          propertyNames: COUNTRY,
          additionalProperties: {
            oneOf: [
              { type: "null" },
              {
                type: "object",
                required: ["callingCode", "nationalLength", "types"],
                additionalProperties: false,
                properties: {
                  callingCode: { type: "string", pattern: "^[1-9][0-9]{0,2}$" },
                  nationalLength: { type: "integer", minimum: 4, maximum: 13 },
                  currency: { type: "string", pattern: "^[A-Z]{3}$" },
                  count: COUNT,
                  types: {
                    type: "object",
                    propertyNames: NUMBER_TYPE,
                    additionalProperties: {
                      type: "object",
                      required: ["prefixes", "monthlyPrice"],
                      additionalProperties: false,
                      properties: {
                        prefixes: { type: "array", minItems: 1, items: PREFIX },
                        count: COUNT,
                        monthlyPrice: PRICE,
                        capabilities: {
                          type: "object",
                          additionalProperties: false,
                          properties: { voice: DIRECTIONS, sms: DIRECTIONS, mms: DIRECTIONS },
                        },
                      },
                    },
                  },
                  testing: {
                    type: "object",
                    required: ["prefixes", "count"],
                    properties: {
                      prefixes: { type: "array", minItems: 1, items: PREFIX },
                      count: COUNT,
                      type: NUMBER_TYPE,
                    },
                  },
                },
              },
            ],
          },
        },
      },
    },
    destinations: {
      type: "object",
      propertyNames: COUNTRY,
      additionalProperties: {
        type: "object",
        required: ["name", "alphaPrice"],
        properties: { name: { type: "string" }, alphaPrice: PRICE },
      },
    },
    alphaUnsupportedCountries: { type: "array", items: COUNTRY },
    senders: { type: "array", items: SENDER_SCHEMA },
  },
};

/** Checks a parsed config, so a typo in a config file fails at start with the offending path. */
export function validateConfig(value: unknown): SimulatorConfig {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const validate = ajv.compile<SimulatorConfig>(CONFIG_SCHEMA);
  if (validate(value)) return value;
  const problems = (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? "is invalid"}`);
  throw new Error(`Invalid simulator config: ${problems.join("; ")}`);
}

/** Reads a YAML or JSON config file (YAML is a superset of JSON, so one parser does both). */
export function loadSimulatorConfig(path: string): SimulatorConfig {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(path, "utf8")) ?? {};
  } catch (error) {
    throw new Error(`Cannot read simulator config ${path}`, { cause: error });
  }
  return validateConfig(parsed);
}

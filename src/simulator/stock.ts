import type { CountryStockConfig, ResolvedConfig } from "./config.js";
import { toMoney } from "./config.js";
import { ApiError } from "./errors.js";
import { pageBySeq, removeBySeq, type Page, type PageRequest } from "./paging.js";
import { hashString, randomDigits, randomUuid, seededRandom, type Random } from "./random.js";
import type { Money, NumberCapabilities, NumberStockItem, NumberType } from "./types.js";

export interface StockRecord {
  seq: number;
  item: NumberStockItem;
  prefix: string;
  testing: boolean;
}

export interface StockFilter {
  countryCodes?: string[];
  prefix?: string;
  types?: string[];
  features?: string[];
  testing?: boolean;
}

/** What makes an item: replenishing draws a fresh number of the same kind. */
export interface StockKind {
  countryCode: string;
  type: NumberType;
  prefix: string;
  testing: boolean;
}

/** A phone number exists once: numberStrings in any organization's stock or any workspace. */
export class NumberRegistry {
  private readonly used = new Set<string>();

  has(numberString: string): boolean {
    return this.used.has(numberString);
  }

  add(numberString: string): void {
    this.used.add(numberString);
  }

  delete(numberString: string): void {
    this.used.delete(numberString);
  }
}

const NO_CAPABILITIES: NumberCapabilities = {
  voice: { inbound: false, outbound: false },
  sms: { inbound: false, outbound: false },
  mms: { inbound: false, outbound: false },
};

function hasFeature(capabilities: NumberCapabilities, feature: string): boolean {
  const [name, direction] = feature.split("-") as [keyof NumberCapabilities, "inbound" | "outbound"];
  return capabilities[name]?.[direction] === true;
}

export function matchesStockFilter(record: StockRecord, filter: StockFilter): boolean {
  const { item } = record;
  if (record.testing !== (filter.testing ?? false)) return false;
  if (filter.countryCodes && !filter.countryCodes.includes(item.countryCode)) return false;
  if (filter.prefix && !item.numberString.startsWith(filter.prefix)) return false;
  if (filter.types && !filter.types.includes(item.type)) return false;
  return (filter.features ?? []).every((feature) => hasFeature(item.capabilities, feature));
}

/** Deterministic stock: the organization id and the config seed decide every number, id and price. */
export class StockGenerator {
  private readonly random: Random;

  constructor(
    private readonly config: ResolvedConfig,
    organizationId: string,
    private readonly registry: NumberRegistry,
  ) {
    this.random = seededRandom(hashString(organizationId, config.seed));
  }

  /** The initial kinds, one entry per item, spread round-robin over each type's prefixes. */
  initialKinds(): StockKind[] {
    const kinds: StockKind[] = [];
    for (const [countryCode, country] of this.config.countries) {
      for (const [type, entry] of Object.entries(country.types) as [
        NumberType,
        NonNullable<CountryStockConfig["types"]["local"]>,
      ][]) {
        const count = entry.count ?? country.count ?? this.config.countPerType;
        for (let i = 0; i < count; i++) {
          kinds.push({ countryCode, type, prefix: entry.prefixes[i % entry.prefixes.length] ?? "", testing: false });
        }
      }
      const testing = country.testing;
      for (let i = 0; testing && i < testing.count; i++) {
        const type = testing.type ?? "local";
        kinds.push({ countryCode, type, prefix: testing.prefixes[i % testing.prefixes.length] ?? "", testing: true });
      }
    }
    return kinds;
  }

  generate(kind: StockKind): NumberStockItem {
    const country = this.config.countries.get(kind.countryCode);
    if (!country) throw new Error(`No stock configuration for ${kind.countryCode}`);
    const entry = country.types[kind.type];
    const capabilities = entry?.capabilities ?? NO_CAPABILITIES;
    const basePrice = kind.testing ? 0 : (entry?.monthlyPrice ?? 1);
    return {
      id: randomUuid(this.random),
      countryCode: kind.countryCode,
      type: kind.type,
      numberString: this.freshNumber(country, kind.prefix),
      capabilities: structuredClone(capabilities),
      monthlyPrice: this.goldenPrice(toMoney(basePrice, country.currency)),
      backOrderRequired: false,
    };
  }

  private freshNumber(country: CountryStockConfig, prefix: string): string {
    const digits = country.callingCode.length + country.nationalLength - (prefix.length - 1);
    for (let attempt = 0; attempt < 1000; attempt++) {
      const candidate = prefix + randomDigits(this.random, Math.max(digits, 0));
      if (!this.registry.has(candidate)) return candidate;
    }
    throw new Error(`Number range ${prefix} is exhausted`);
  }

  /** Some numbers are easier to remember and cost more, so price limits have something to refuse. */
  private goldenPrice(price: Money): Money {
    const roll = this.random();
    const factor = roll < 0.05 ? 5 : roll < 0.15 ? 2 : 1;
    return { ...price, amount: price.amount * factor };
  }
}

/** One organization's stock, ordered by arrival; sold items leave, replenished ones arrive at the end. */
export class OrganizationStock {
  private readonly records: StockRecord[] = [];
  private readonly byId = new Map<string, StockRecord>();
  private nextSeq = 1;

  constructor(
    readonly organizationId: string,
    private readonly generator: StockGenerator,
    private readonly registry: NumberRegistry,
    private readonly replenish: boolean,
  ) {
    for (const kind of generator.initialKinds()) this.insert(generator.generate(kind), kind.prefix, kind.testing);
  }

  get size(): number {
    return this.records.length;
  }

  get(id: string): StockRecord | undefined {
    return this.byId.get(id);
  }

  page(filter: StockFilter, request: PageRequest): Page<StockRecord> {
    if (filter.prefix !== undefined && !filter.countryCodes?.length) {
      throw new ApiError(422, "invalid-filter", "prefix must be used together with countryCodes", { field: "prefix" });
    }
    return pageBySeq(this.records, `stock:${this.organizationId}`, request, (r) => matchesStockFilter(r, filter));
  }

  /** The caller has checked every id is here: a purchase is all-or-nothing. */
  take(ids: readonly string[]): StockRecord[] {
    const taken = ids.map((id) => {
      const record = this.byId.get(id);
      if (!record) throw new Error(`Stock item ${id} vanished during a purchase`);
      this.byId.delete(id);
      removeBySeq(this.records, record.seq);
      return record;
    });
    if (this.replenish) {
      for (const { item, prefix, testing } of taken) {
        const kind = { countryCode: item.countryCode, type: item.type as NumberType, prefix, testing };
        this.insert(this.generator.generate(kind), prefix, testing);
      }
    }
    return taken;
  }

  /** A fresh item of this kind that is not put in stock (for numbers placed straight into a workspace). */
  mint(kind: StockKind): NumberStockItem {
    return this.generator.generate(kind);
  }

  /** Removes an item without selling it (a number put straight into a workspace). */
  remove(id: string): void {
    const record = this.byId.get(id);
    if (!record) return;
    this.byId.delete(id);
    removeBySeq(this.records, record.seq);
    this.registry.delete(record.item.numberString);
  }

  insert(item: NumberStockItem, prefix: string, testing: boolean): StockRecord {
    const record = { seq: this.nextSeq++, item, prefix, testing };
    this.records.push(record);
    this.byId.set(item.id, record);
    this.registry.add(item.numberString);
    return record;
  }

  findByNumber(numberString: string): StockRecord | undefined {
    return this.records.find((r) => r.item.numberString === numberString);
  }

  /** Items in stock by country and type; test numbers are counted apart. */
  counts(): { byCountry: Record<string, Record<string, number>>; testing: number } {
    const counts: Record<string, Record<string, number>> = {};
    let testing = 0;
    for (const { item, testing: isTest } of this.records) {
      if (isTest) {
        testing++;
        continue;
      }
      const country = (counts[item.countryCode] ??= {});
      country[item.type] = (country[item.type] ?? 0) + 1;
    }
    return { byCountry: counts, testing };
  }
}

export interface StockItemInput {
  numberString: string;
  countryCode: string;
  type?: NumberType;
  id?: string;
  capabilities?: NumberCapabilities;
  monthlyPrice?: Money;
  testing?: boolean;
}

/** A stock item made to order (control API): what config says about its country and type fills the gaps. */
export function stockItemFor(
  config: ResolvedConfig,
  input: StockItemInput & { type: NumberType; id: string },
): NumberStockItem {
  const country = config.countries.get(input.countryCode);
  const entry = country?.types[input.type];
  const full = { inbound: true, outbound: true };
  return {
    id: input.id,
    countryCode: input.countryCode,
    type: input.type,
    numberString: input.numberString,
    capabilities: structuredClone(input.capabilities ?? entry?.capabilities ?? { voice: full, sms: full, mms: full }),
    monthlyPrice: input.monthlyPrice ? { ...input.monthlyPrice } : toMoney(entry?.monthlyPrice ?? 1, country?.currency),
    backOrderRequired: false,
  };
}

export function defaultType(config: ResolvedConfig, countryCode: string): NumberType {
  const types = Object.keys(config.countries.get(countryCode)?.types ?? {}) as NumberType[];
  return types[0] ?? "local";
}

export function prefixesOf(config: ResolvedConfig, countryCode: string, type: NumberType): string[] {
  const prefixes = config.countries.get(countryCode)?.types[type]?.prefixes;
  if (!prefixes?.length)
    throw new ApiError(400, "invalid-request", `No ${type} numbers are configured for ${countryCode}`);
  return prefixes;
}

export function prefixOf(config: ResolvedConfig, numberString: string, countryCode: string, type: NumberType): string {
  const prefixes = config.countries.get(countryCode)?.types[type]?.prefixes ?? [];
  return prefixes.find((p) => numberString.startsWith(p)) ?? numberString.slice(0, 5);
}

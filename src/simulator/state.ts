import { randomUUID } from "node:crypto";
import type { DestinationCountry, ResolvedConfig, SenderConfig } from "./config.js";
import {
  activateDestinations,
  cancelSubscription,
  deactivateDestinations,
  destinationRefusal,
  isMainCanceled,
  newSubscription,
  subscriptionPrices,
  type EndpointContext,
  type EndpointRecord,
  type NumberRecord,
  type SenderRecord,
} from "./endpoints.js";
import { ApiError, notFound } from "./errors.js";
import type { Page, PageRequest } from "./paging.js";
import { hashString, randomUuid, seededRandom } from "./random.js";
import {
  serializeDestination,
  serializeNumber,
  serializeSender,
  serializeStockItem,
  serializeSubscription,
} from "./serialize.js";
import {
  NumberRegistry,
  OrganizationStock,
  StockGenerator,
  defaultType,
  prefixOf,
  prefixesOf,
  stockItemFor,
  type StockFilter,
  type StockItemInput,
} from "./stock.js";
import type {
  ActivateDestinationsResponse,
  AlphaNumber,
  CapabilityName,
  Destination,
  EndpointSubscription,
  LongCodeNumber,
  Money,
  NumberCapabilities,
  NumberStockItem,
  NumberType,
  PurchaseRecord,
  WorkspaceIdentity,
} from "./types.js";
import { WorkspaceState, type NumberFilter } from "./workspace.js";

export interface ListResult<T> {
  results: T[];
  nextPageToken?: string;
}

export interface DestinationsRequest {
  capability: string;
  countryCodes: string[];
}

/** A number put straight into a workspace, as if bought long ago: `count` generated ones, or one exact number. */
export interface AddNumbersRequest {
  workspaceId?: string;
  countryCode: string;
  type?: NumberType;
  count?: number;
  numberString?: string;
  capabilities?: NumberCapabilities;
  monthlyPrice?: Money;
  /** Default true: such numbers are usually long provisioned. */
  provisioned?: boolean;
}

export type AddSenderRequest = SenderConfig;

export interface StateSnapshot {
  time: string;
  organizations: {
    organizationId: string;
    stock: { total: number; byCountry: Record<string, Record<string, number>>; testing: number };
  }[];
  workspaces: {
    organizationId: string;
    workspaceId: string;
    numberCount: number;
    senderCount: number;
    numbers?: LongCodeNumber[];
    senders?: AlphaNumber[];
  }[];
  purchaseCount: number;
}

function toList<R, T>(page: Page<R>, serialize: (record: R) => T): ListResult<T> {
  const list: ListResult<T> = { results: page.items.map(serialize) };
  if (page.nextPageToken !== undefined) list.nextPageToken = page.nextPageToken;
  return list;
}

/** Everything the simulated Bird knows: stock per organization, numbers and senders per workspace, purchases. */
export class SimulatorState implements EndpointContext {
  readonly destinations: ReadonlyMap<string, DestinationCountry>;
  readonly alphaUnsupported: ReadonlySet<string>;
  provisioningDelayMs: number;
  /** See SimulatorOptions.namesRefusedStockItems. */
  namesRefusedStockItems = false;
  private readonly registry = new NumberRegistry();
  private readonly stocks = new Map<string, OrganizationStock>();
  private readonly workspaces = new Map<string, WorkspaceState>();
  private readonly keys = new Map<string, WorkspaceIdentity>();
  private readonly endpoints = new Map<string, EndpointRecord>();
  private readonly purchaseLog: PurchaseRecord[] = [];
  private nextSeq = 1;

  constructor(
    identities: readonly WorkspaceIdentity[],
    private readonly config: ResolvedConfig,
    provisioningDelayMs: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.destinations = config.destinations;
    this.alphaUnsupported = config.alphaUnsupported;
    this.provisioningDelayMs = provisioningDelayMs;
    for (const identity of identities) this.addWorkspace(identity);
  }

  now(): number {
    return this.clock();
  }

  private addWorkspace(identity: WorkspaceIdentity): void {
    if (this.workspaces.has(identity.workspaceId))
      throw new Error(`Workspace ${identity.workspaceId} is configured twice`);
    if (this.keys.has(identity.accessKey)) throw new Error("Two workspaces share an access key");
    this.keys.set(identity.accessKey, identity);
    this.workspaces.set(identity.workspaceId, new WorkspaceState(identity));
    if (!this.stocks.has(identity.organizationId)) {
      const generator = new StockGenerator(this.config, identity.organizationId, this.registry);
      const stock = new OrganizationStock(identity.organizationId, generator, this.registry, this.config.replenish);
      this.stocks.set(identity.organizationId, stock);
    }
    for (const sender of this.config.senders) {
      if (sender.workspaceId === undefined || sender.workspaceId === identity.workspaceId) {
        this.addSender({ ...sender, workspaceId: identity.workspaceId });
      }
    }
  }

  identityForKey(accessKey: string): WorkspaceIdentity | undefined {
    return this.keys.get(accessKey);
  }

  identities(): WorkspaceIdentity[] {
    return [...this.workspaces.values()].map((w) => w.identity);
  }

  workspace(workspaceId: string): WorkspaceState {
    const workspace = this.workspaces.get(workspaceId);
    if (!workspace) throw notFound("Workspace", workspaceId);
    return workspace;
  }

  stock(organizationId: string): OrganizationStock {
    const stock = this.stocks.get(organizationId);
    if (!stock) throw notFound("Organization", organizationId);
    return stock;
  }

  private defaultWorkspaceId(): string {
    const first = this.workspaces.keys().next();
    if (first.done) throw new Error("The simulator has no workspace");
    return first.value;
  }

  // ---- public API ----

  listStock(organizationId: string, filter: StockFilter, request: PageRequest): ListResult<NumberStockItem> {
    return toList(this.stock(organizationId).page(filter, request), serializeStockItem);
  }

  /** All-or-nothing: one unavailable item and nothing is bought. */
  buyNumbers(workspaceId: string, stockItemIds: readonly string[]): LongCodeNumber[] {
    const workspace = this.workspace(workspaceId);
    const stock = this.stock(workspace.identity.organizationId);
    const duplicates = stockItemIds.filter((id, index) => stockItemIds.indexOf(id) !== index);
    if (duplicates.length > 0) throw this.buyRefusal("duplicate-stock-item", "Stock items listed twice", duplicates);
    const unavailable = stockItemIds.filter((id) => !stock.get(id));
    if (unavailable.length > 0)
      throw this.buyRefusal("stock-item-unavailable", "Stock items not available", unavailable);
    return stock.take(stockItemIds).map(({ item, prefix }) => {
      const record = this.createNumber(workspace, item, prefix, false);
      record.stockItemId = item.id;
      this.logPurchase(workspace.identity, record);
      return serializeNumber(this, record);
    });
  }

  /** Bird documents only "422 Validation error" for a buy; naming the items is an option (our assumption). */
  private buyRefusal(code: string, message: string, ids: string[]): ApiError {
    if (!this.namesRefusedStockItems) return new ApiError(422, "validation-error", "Validation error");
    return new ApiError(422, code, `${message}: ${ids.join(", ")}`, { numberStockItemIds: ids });
  }

  listNumbers(workspaceId: string, filter: NumberFilter, request: PageRequest): ListResult<LongCodeNumber> {
    return toList(this.workspace(workspaceId).pageNumbers(filter, request), (r) => serializeNumber(this, r));
  }

  getNumber(workspaceId: string, id: string): LongCodeNumber {
    const record = this.workspace(workspaceId).number(id);
    if (!record) throw notFound("Long code number", id);
    return serializeNumber(this, record);
  }

  listSenders(workspaceId: string, request: PageRequest): ListResult<AlphaNumber> {
    return toList(this.workspace(workspaceId).pageSenders(request), (r) => serializeSender(this, r));
  }

  getSender(workspaceId: string, id: string): AlphaNumber {
    const record = this.workspace(workspaceId).sender(id);
    if (!record) throw notFound("Alpha number", id);
    return serializeSender(this, record);
  }

  /** The endpoint in this workspace; another workspace's endpoint is as unknown as a missing one. */
  endpointIn(workspaceId: string, endpointId: string): EndpointRecord {
    const endpoint = this.workspace(workspaceId).endpoint(endpointId);
    if (!endpoint) throw notFound("Endpoint", endpointId);
    return endpoint;
  }

  /** Semantic refusals come back in the body with status 200, as Bird documents for this call. */
  activate(endpoint: EndpointRecord, request: DestinationsRequest, validate: boolean): ActivateDestinationsResponse {
    const countries = [...new Set(request.countryCodes)];
    const error = destinationRefusal(this, endpoint, request.capability, countries);
    if (error) return { error };
    if (isMainCanceled(endpoint)) {
      return {
        error: { code: "subscription-is-not-active", message: `Subscription main of ${endpoint.id} is cancelled` },
      };
    }
    const prices = subscriptionPrices(this, endpoint, request.capability, countries);
    if (validate) return { subscriptionPrices: prices };
    activateDestinations(this, endpoint, request.capability as CapabilityName, countries);
    return { results: countries.map((c) => serializeDestination(this, endpoint, c)), subscriptionPrices: prices };
  }

  /** The answer schema has no `error`, so refusals here are 422s. */
  deactivate(endpoint: EndpointRecord, request: DestinationsRequest): { results: Destination[] } {
    const countries = [...new Set(request.countryCodes)];
    const error = destinationRefusal(this, endpoint, request.capability, countries);
    if (error) throw new ApiError(422, error.code, error.message, error.details);
    deactivateDestinations(this, endpoint, request.capability as CapabilityName, countries);
    return { results: countries.map((c) => serializeDestination(this, endpoint, c)) };
  }

  subscriptions(endpoint: EndpointRecord): { results: EndpointSubscription[] } {
    return { results: [...endpoint.subscriptions.values()].map(serializeSubscription) };
  }

  subscription(endpoint: EndpointRecord, name: string): EndpointSubscription {
    const subscription = endpoint.subscriptions.get(name);
    if (!subscription) throw notFound("Subscription", name);
    return serializeSubscription(subscription);
  }

  cancel(endpoint: EndpointRecord, name: string): EndpointSubscription {
    return serializeSubscription(cancelSubscription(this, endpoint, name));
  }

  // ---- direct changes (control API) ----

  /** Any workspace's endpoint: out-of-band changes do not care whose it is. */
  anyEndpoint(endpointId: string): EndpointRecord {
    const endpoint = this.endpoints.get(endpointId);
    if (!endpoint) throw notFound("Endpoint", endpointId);
    return endpoint;
  }

  addNumbers(request: AddNumbersRequest): LongCodeNumber[] {
    const workspace = this.workspace(request.workspaceId ?? this.defaultWorkspaceId());
    const stock = this.stock(workspace.identity.organizationId);
    const type = request.type ?? defaultType(this.config, request.countryCode);
    const items: { item: NumberStockItem; prefix: string }[] = [];
    if (request.numberString !== undefined) {
      items.push(this.exactItem(stock, { ...request, numberString: request.numberString, type }));
    } else {
      const prefixes = prefixesOf(this.config, request.countryCode, type);
      for (let i = 0; i < (request.count ?? 1); i++) {
        const prefix = prefixes[i % prefixes.length] ?? "";
        const item = stock.mint({ countryCode: request.countryCode, type, prefix, testing: false });
        this.registry.add(item.numberString);
        items.push({ item: this.withOverrides(item, request), prefix });
      }
    }
    return items.map(({ item, prefix }) => {
      const record = this.createNumber(workspace, item, prefix, request.provisioned ?? true);
      return serializeNumber(this, record);
    });
  }

  private exactItem(
    stock: OrganizationStock,
    request: AddNumbersRequest & { numberString: string; type: NumberType },
  ): { item: NumberStockItem; prefix: string } {
    const inStock = stock.findByNumber(request.numberString);
    if (inStock) {
      stock.remove(inStock.item.id);
      return { item: this.withOverrides(inStock.item, request), prefix: inStock.prefix };
    }
    if (this.registry.has(request.numberString)) {
      throw new ApiError(409, "number-exists", `${request.numberString} already exists in the simulator`);
    }
    const item = stockItemFor(this.config, { ...request, id: randomUUID() });
    return { item, prefix: prefixOf(this.config, item.numberString, request.countryCode, request.type) };
  }

  private withOverrides(item: NumberStockItem, request: AddNumbersRequest): NumberStockItem {
    return {
      ...item,
      capabilities: request.capabilities ? structuredClone(request.capabilities) : item.capabilities,
      monthlyPrice: request.monthlyPrice ? { ...request.monthlyPrice } : item.monthlyPrice,
    };
  }

  addStock(organizationId: string | undefined, inputs: readonly StockItemInput[]): NumberStockItem[] {
    const stock = this.stock(organizationId ?? this.workspace(this.defaultWorkspaceId()).identity.organizationId);
    const numbers = inputs.map((input) => input.numberString);
    const taken = numbers.filter((n, index) => this.registry.has(n) || numbers.indexOf(n) !== index);
    if (taken.length > 0)
      throw new ApiError(409, "number-exists", `Already exist: ${taken.join(", ")}`, { numberStrings: taken });
    const ids = inputs.flatMap((input) => (input.id === undefined ? [] : [input.id]));
    const usedIds = ids.filter((id, index) => stock.get(id) !== undefined || ids.indexOf(id) !== index);
    if (usedIds.length > 0)
      throw new ApiError(409, "stock-item-exists", `Stock item ids in use: ${usedIds.join(", ")}`);
    return inputs.map((input) => {
      const type = input.type ?? defaultType(this.config, input.countryCode);
      const item = stockItemFor(this.config, { ...input, type, id: input.id ?? randomUUID() });
      const prefix = prefixOf(this.config, item.numberString, input.countryCode, type);
      return serializeStockItem(stock.insert(item, prefix, input.testing ?? false));
    });
  }

  addSender(request: AddSenderRequest): AlphaNumber {
    const workspace = this.workspace(request.workspaceId ?? this.defaultWorkspaceId());
    const seed = hashString(`${workspace.id}/${request.alphaString}`, this.config.seed);
    const id = request.id ?? randomUuid(seededRandom(seed));
    if (this.endpoints.has(id)) throw new ApiError(409, "sender-exists", `Endpoint ${id} already exists`);
    const now = this.now();
    const record: SenderRecord = {
      kind: "alpha",
      seq: this.nextSeq++,
      id,
      workspaceId: workspace.id,
      instanceId: randomUuid(seededRandom(seed + 1)),
      createdAt: now,
      updatedAt: now,
      provisionedAt: now,
      destinations: new Map(),
      subscriptions: new Map(),
      alphaString: request.alphaString,
      registeredCountries: [...(request.activeCountries ?? [])],
      blocked: new Set(request.blockedCountries ?? []),
    };
    const active = (request.activeCountries ?? []).filter((c) => this.destinations.has(c));
    if (active.length > 0) activateDestinations(this, record, "sms", active);
    workspace.addSender(record);
    this.endpoints.set(id, record);
    return serializeSender(this, record);
  }

  deleteNumber(id: string): LongCodeNumber {
    const endpoint = this.anyEndpoint(id);
    if (endpoint.kind !== "long-code") throw notFound("Long code number", id);
    const serialized = serializeNumber(this, endpoint);
    this.workspace(endpoint.workspaceId).removeNumber(id);
    this.endpoints.delete(id);
    this.registry.delete(endpoint.numberString);
    return serialized;
  }

  private createNumber(
    workspace: WorkspaceState,
    item: NumberStockItem,
    prefix: string,
    provisioned: boolean,
  ): NumberRecord {
    const now = this.now();
    const record: NumberRecord = {
      kind: "long-code",
      seq: this.nextSeq++,
      id: randomUUID(),
      workspaceId: workspace.id,
      instanceId: randomUUID(),
      createdAt: now,
      updatedAt: now,
      provisionedAt: provisioned ? now : now + this.provisioningDelayMs,
      destinations: new Map(),
      subscriptions: new Map([["main", newSubscription("main", { ...item.monthlyPrice }, now)]]),
      numberString: item.numberString,
      countryCode: item.countryCode,
      type: item.type,
      capabilities: structuredClone(item.capabilities),
      monthlyPrice: { ...item.monthlyPrice },
      prefix,
    };
    workspace.addNumber(record);
    this.endpoints.set(record.id, record);
    this.registry.add(record.numberString);
    return record;
  }

  private logPurchase(identity: WorkspaceIdentity, record: NumberRecord): void {
    this.purchaseLog.push({
      time: new Date(record.createdAt).toISOString(),
      organizationId: identity.organizationId,
      workspaceId: identity.workspaceId,
      stockItemId: record.stockItemId ?? "",
      numberId: record.id,
      numberString: record.numberString,
      countryCode: record.countryCode,
      type: record.type,
      price: { ...record.monthlyPrice },
    });
  }

  purchases(): readonly PurchaseRecord[] {
    return this.purchaseLog;
  }

  snapshot(withLists: boolean): StateSnapshot {
    return {
      time: new Date(this.now()).toISOString(),
      organizations: [...this.stocks.values()].map((stock) => ({
        organizationId: stock.organizationId,
        stock: { total: stock.size, ...stock.counts() },
      })),
      workspaces: [...this.workspaces.values()].map((workspace) => ({
        organizationId: workspace.identity.organizationId,
        workspaceId: workspace.id,
        numberCount: workspace.numberCount,
        senderCount: workspace.senderCount,
        ...(withLists
          ? {
              numbers: workspace.allNumbers().map((r) => serializeNumber(this, r)),
              senders: workspace.allSenders().map((r) => serializeSender(this, r)),
            }
          : {}),
      })),
      purchaseCount: this.purchaseLog.length,
    };
  }
}

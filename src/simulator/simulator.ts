import type { ValidateFunction } from "ajv/dist/2020.js";
import { silentLogger, type Logger } from "../log.js";
import { CallRecorder, type CallStats } from "./calls.js";
import { resolveConfig } from "./config.js";
import { FaultInjector, RateLimiter } from "./faults.js";
import { birdContract, type BirdContract, type Operation } from "./openapi.js";
import {
  SimulatorState,
  type AddNumbersRequest,
  type AddSenderRequest,
  type DestinationsRequest,
  type StateSnapshot,
} from "./state.js";
import type { StockItemInput } from "./stock.js";
import type {
  ActivateDestinationsResponse,
  AlphaNumber,
  Destination,
  EndpointSubscription,
  FaultSettings,
  LongCodeNumber,
  NumberStockItem,
  PurchaseRecord,
  RateLimitSettings,
  ResponseViolation,
  SimulatorOptions,
  WorkspaceIdentity,
} from "./types.js";
import {
  DEFAULT_ACCESS_KEY,
  DEFAULT_ORGANIZATION_ID,
  DEFAULT_PROVISIONING_DELAY_MS,
  DEFAULT_WORKSPACE_ID,
} from "./types.js";

/**
 * The simulated Bird: its state plus the knobs tests turn (faults, rate limits) and what they inspect (calls,
 * purchases, contract violations). The HTTP server is a thin layer over this; tests may also call it directly.
 */
export class Simulator {
  readonly identity: WorkspaceIdentity;
  readonly state: SimulatorState;
  readonly faultInjector: FaultInjector;
  readonly rateLimiter: RateLimiter;
  readonly callRecorder: CallRecorder;
  readonly contract: BirdContract;
  readonly validatesResponses: boolean;
  readonly logger: Logger;
  private readonly violations: ResponseViolation[] = [];

  constructor(options: SimulatorOptions = {}) {
    this.identity = {
      organizationId: options.organizationId ?? DEFAULT_ORGANIZATION_ID,
      workspaceId: options.workspaceId ?? DEFAULT_WORKSPACE_ID,
      accessKey: options.accessKey ?? DEFAULT_ACCESS_KEY,
    };
    const identities = [this.identity, ...(options.extraWorkspaces ?? [])];
    const delay = options.provisioningDelayMs ?? DEFAULT_PROVISIONING_DELAY_MS;
    const skewMs = options.clockSkewMs ?? 0;
    this.state = new SimulatorState(identities, resolveConfig(options.config), delay, () => Date.now() + skewMs);
    this.state.namesRefusedStockItems = options.namesRefusedStockItems ?? false;
    this.faultInjector = new FaultInjector(options.faults);
    this.rateLimiter = new RateLimiter(options.rateLimits);
    this.callRecorder = new CallRecorder(options.callLogSize);
    this.contract = birdContract();
    this.validatesResponses = options.validateResponses ?? false;
    this.logger = options.logger ?? silentLogger();
  }

  snapshot(withLists = true): StateSnapshot {
    return this.state.snapshot(withLists);
  }

  purchases(): PurchaseRecord[] {
    return this.state.purchases().map((p) => structuredClone(p));
  }

  calls(): CallStats {
    return this.callRecorder.stats();
  }

  resetCalls(): void {
    this.callRecorder.reset();
  }

  faults(): FaultSettings {
    return this.faultInjector.settings();
  }

  setFaults(settings: FaultSettings): FaultSettings {
    return this.faultInjector.update(settings);
  }

  rateLimits(): RateLimitSettings {
    return this.rateLimiter.settings();
  }

  setRateLimits(settings: Partial<RateLimitSettings>): RateLimitSettings {
    return this.rateLimiter.update(settings);
  }

  setProvisioningDelay(ms: number): void {
    this.state.provisioningDelayMs = ms;
  }

  addNumbers(request: AddNumbersRequest): LongCodeNumber[] {
    return this.state.addNumbers(request);
  }

  addStock(items: readonly StockItemInput[], organizationId?: string): NumberStockItem[] {
    return this.state.addStock(organizationId, items);
  }

  addSender(request: AddSenderRequest): AlphaNumber {
    return this.state.addSender(request);
  }

  /** Out of band, as if someone used Bird's dashboard. */
  activateDestinations(endpointId: string, request: DestinationsRequest): ActivateDestinationsResponse {
    return this.state.activate(this.state.anyEndpoint(endpointId), request, false);
  }

  deactivateDestinations(endpointId: string, request: DestinationsRequest): { results: Destination[] } {
    return this.state.deactivate(this.state.anyEndpoint(endpointId), request);
  }

  cancelSubscription(endpointId: string, name: string): EndpointSubscription {
    return this.state.cancel(this.state.anyEndpoint(endpointId), name);
  }

  /** Makes Bird report other issues or another provisioningStatus on an endpoint (undefined restores its own). */
  reportOnEndpoint(endpointId: string, reported: { issues?: string[]; provisioningStatus?: string } | undefined): void {
    const endpoint = this.state.anyEndpoint(endpointId);
    endpoint.reported = reported;
    endpoint.updatedAt = this.state.now();
  }

  deleteNumber(id: string): LongCodeNumber {
    return this.state.deleteNumber(id);
  }

  responseViolations(): ResponseViolation[] {
    return this.violations.map((v) => structuredClone(v));
  }

  clearResponseViolations(): void {
    this.violations.length = 0;
  }

  /** Checks an answer against the contract; violations are kept for tests to assert there are none. */
  checkResponse(operation: Operation, status: number, body: unknown): void {
    if (!this.validatesResponses) return;
    const validate: ValidateFunction | undefined = operation.responses.get(status);
    let errors: string[] = [];
    if (!validate) errors = [`status ${status} is not declared for ${operation.operationId}`];
    else if (!validate(body))
      errors = (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? "is invalid"}`);
    if (errors.length === 0) return;
    const violation = {
      time: new Date().toISOString(),
      method: operation.method,
      route: operation.template,
      status,
      errors,
    };
    this.violations.push(violation);
    this.logger.warn(violation, "Simulator answer violates the Bird contract");
  }
}

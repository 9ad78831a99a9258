import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import type { Reply } from "./api-routes.js";
import { COUNTRY, SENDER_SCHEMA } from "./config.js";
import { ApiError } from "./errors.js";
import { checkFaultSettings } from "./faults.js";
import { fieldErrors } from "./openapi.js";
import type { Simulator } from "./simulator.js";
import type { AddNumbersRequest, AddSenderRequest, DestinationsRequest } from "./state.js";
import type { StockItemInput } from "./stock.js";
import type { FaultSettings, RateLimitSettings } from "./types.js";

const NUMBER_STRING = { type: "string", pattern: "^\\+[1-9][0-9]{6,14}$" };
const NUMBER_TYPE = { enum: ["local", "mobile", "toll-free", "national"] };
const MONEY = {
  type: "object",
  required: ["currencyCode", "amount", "exponent"],
  properties: { currencyCode: { type: "string" }, amount: { type: "integer" }, exponent: { type: "integer" } },
};
const DIRECTIONS = { type: "object", properties: { inbound: { type: "boolean" }, outbound: { type: "boolean" } } };
const CAPABILITIES = { type: "object", properties: { voice: DIRECTIONS, sms: DIRECTIONS, mms: DIRECTIONS } };

const ajv = new Ajv2020({ allErrors: true });
const validators = {
  numbers: ajv.compile<AddNumbersRequest>({
    type: "object",
    required: ["countryCode"],
    additionalProperties: false,
    properties: {
      workspaceId: { type: "string" },
      countryCode: COUNTRY,
      type: NUMBER_TYPE,
      count: { type: "integer", minimum: 1, maximum: 100_000 },
      numberString: NUMBER_STRING,
      capabilities: CAPABILITIES,
      monthlyPrice: MONEY,
      provisioned: { type: "boolean" },
    },
    not: { required: ["count", "numberString"] },
  }),
  stock: ajv.compile<{ organizationId?: string; items: StockItemInput[] }>({
    type: "object",
    required: ["items"],
    additionalProperties: false,
    properties: {
      organizationId: { type: "string" },
      items: {
        type: "array",
        minItems: 1,
        items: {
          type: "object",
          required: ["numberString", "countryCode"],
          additionalProperties: false,
          properties: {
            numberString: NUMBER_STRING,
            countryCode: COUNTRY,
            type: NUMBER_TYPE,
            id: { type: "string", minLength: 1, maxLength: 64 },
            capabilities: CAPABILITIES,
            monthlyPrice: MONEY,
            testing: { type: "boolean" },
          },
        },
      },
    },
  }),
  sender: ajv.compile<AddSenderRequest>(SENDER_SCHEMA),
  rateLimits: ajv.compile<Partial<RateLimitSettings>>({
    type: "object",
    additionalProperties: false,
    properties: {
      enabled: { type: "boolean" },
      getPerSecond: { type: "number" },
      postPerSecond: { type: "number" },
      window: { enum: ["bucket", "sliding"] },
      sharedGetPerSecond: { type: "number" },
      sharedPostPerSecond: { type: "number" },
    },
  }),
  provisioning: ajv.compile<{ delayMs: number }>({
    type: "object",
    required: ["delayMs"],
    additionalProperties: false,
    properties: { delayMs: { type: "integer", minimum: 0 } },
  }),
};

function checked<T>(validate: ValidateFunction<T>, body: unknown): T {
  if (validate(body)) return body;
  const errors = fieldErrors(validate.errors ?? [], "body");
  throw new ApiError(
    400,
    "invalid-request",
    `Invalid control request: ${errors.map((e) => `${e.field} ${e.message}`).join("; ")}`,
    {
      errors,
    },
  );
}

interface ControlRoute {
  method: string;
  pattern: RegExp;
  handle: (sim: Simulator, params: string[], body: unknown, url: URL) => Reply;
}

const ok = (body: unknown): Reply => ({ status: 200, body });
const created = (body: unknown): Reply => ({ status: 201, body });

const ROUTES: ControlRoute[] = [
  {
    method: "GET",
    pattern: /^\/state$/,
    handle: (sim, _, __, url) => ok(sim.snapshot(url.searchParams.get("lists") !== "false")),
  },
  { method: "GET", pattern: /^\/purchases$/, handle: (sim) => ok({ results: sim.purchases() }) },
  { method: "GET", pattern: /^\/calls$/, handle: (sim) => ok(sim.calls()) },
  {
    method: "DELETE",
    pattern: /^\/calls$/,
    handle: (sim) => {
      sim.resetCalls();
      return ok(sim.calls());
    },
  },
  { method: "GET", pattern: /^\/violations$/, handle: (sim) => ok({ results: sim.responseViolations() }) },
  { method: "GET", pattern: /^\/faults$/, handle: (sim) => ok(sim.faults()) },
  {
    method: "PUT",
    pattern: /^\/faults$/,
    handle: (sim, _, body) => ok(sim.setFaults(checkFaultSettings(body as FaultSettings))),
  },
  { method: "GET", pattern: /^\/rate-limits$/, handle: (sim) => ok(sim.rateLimits()) },
  {
    method: "PUT",
    pattern: /^\/rate-limits$/,
    handle: (sim, _, body) => ok(sim.setRateLimits(checked(validators.rateLimits, body))),
  },
  {
    method: "PUT",
    pattern: /^\/provisioning$/,
    handle: (sim, _, body) => {
      sim.setProvisioningDelay(checked(validators.provisioning, body).delayMs);
      return ok({ delayMs: sim.state.provisioningDelayMs });
    },
  },
  {
    method: "POST",
    pattern: /^\/numbers$/,
    handle: (sim, _, body) => created({ results: sim.addNumbers(checked(validators.numbers, body)) }),
  },
  { method: "DELETE", pattern: /^\/numbers\/([^/]+)$/, handle: (sim, [id]) => ok(sim.deleteNumber(id ?? "")) },
  {
    method: "POST",
    pattern: /^\/stock$/,
    handle: (sim, _, body) => {
      const request = checked(validators.stock, body);
      return created({ results: sim.addStock(request.items, request.organizationId) });
    },
  },
  {
    method: "POST",
    pattern: /^\/senders$/,
    handle: (sim, _, body) => created(sim.addSender(checked(validators.sender, body))),
  },
  {
    method: "POST",
    pattern: /^\/endpoints\/([^/]+)\/destinations\/(activate|deactivate)$/,
    handle: (sim, [endpointId = "", action], body) => {
      const schema = action === "activate" ? "ActivateDestinationsRequest" : "DeactivateDestinationsRequest";
      const request = checked(sim.contract.schema(schema) as ValidateFunction<DestinationsRequest>, body);
      return ok(
        action === "activate"
          ? sim.activateDestinations(endpointId, request)
          : sim.deactivateDestinations(endpointId, request),
      );
    },
  },
  {
    method: "POST",
    pattern: /^\/endpoints\/([^/]+)\/subscriptions\/([^/]+)\/cancel$/,
    handle: (sim, [endpointId = "", name = ""]) => ok(sim.cancelSubscription(endpointId, name)),
  },
];

function parseJson(rawBody: string): unknown {
  if (rawBody.trim() === "") return {};
  try {
    return JSON.parse(rawBody);
  } catch {
    throw new ApiError(400, "invalid-json", "The request body is not valid JSON");
  }
}

/** `/_simulator/...`: no auth, no faults, no rate limits, not counted; errors use Bird's error object too. */
export function answerControlRequest(sim: Simulator, method: string, url: URL, rawBody: string): Reply {
  const subPath = url.pathname.slice("/_simulator".length);
  const sameMethod = ROUTES.filter((r) => r.pattern.test(subPath));
  const route = sameMethod.find((r) => r.method === method);
  try {
    if (!route) {
      if (sameMethod.length > 0)
        throw new ApiError(405, "method-not-allowed", `Allowed: ${sameMethod.map((r) => r.method).join(", ")}`);
      throw new ApiError(404, "not-found", `No control route ${method} ${url.pathname}`);
    }
    const params = (route.pattern.exec(subPath) ?? []).slice(1).map((p) => decodeURIComponent(p));
    return route.handle(sim, params, parseJson(rawBody), url);
  } catch (error) {
    if (error instanceof ApiError) return { status: error.status, body: error.toBody() };
    throw error;
  }
}

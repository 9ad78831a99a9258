import type { Operation, ParsedParameters } from "./openapi.js";
import type { PageRequest } from "./paging.js";
import type { DestinationsRequest, SimulatorState } from "./state.js";
import type { StockFilter } from "./stock.js";
import type { WorkspaceIdentity } from "./types.js";

export interface Reply {
  status: number;
  body: unknown;
}

/** A request that passed authentication, rate limits and contract validation. */
export interface ApiRequest {
  identity: WorkspaceIdentity;
  operation: Operation;
  params: ParsedParameters;
  body: unknown;
}

type Handler = (state: SimulatorState, request: ApiRequest) => Reply;

const ok = (body: unknown): Reply => ({ status: 200, body });

function pageRequest(query: Record<string, unknown>): PageRequest {
  const request: PageRequest = { limit: (query.limit as number | undefined) ?? 10, reverse: query.reverse === true };
  if (typeof query.pageToken === "string") request.pageToken = query.pageToken;
  return request;
}

function stockFilter(query: Record<string, unknown>): StockFilter {
  return {
    countryCodes: query.countryCodes as string[] | undefined,
    prefix: query.prefix as string | undefined,
    types: query.types as string[] | undefined,
    features: query.features as string[] | undefined,
    testing: query.testing as boolean | undefined,
  };
}

const path = (request: ApiRequest, name: string): string => String(request.params.path[name]);

function endpointOf(state: SimulatorState, request: ApiRequest): ReturnType<SimulatorState["endpointIn"]> {
  return state.endpointIn(path(request, "workspaceId"), path(request, "endpointId"));
}

/** One handler per operationId of openapi/bird.yaml; a test checks none is missing. */
export const API_HANDLERS: Record<string, Handler> = {
  listNumberStockItems: (state, request) =>
    ok(
      state.listStock(
        path(request, "organizationId"),
        stockFilter(request.params.query),
        pageRequest(request.params.query),
      ),
    ),

  buyLongCodeNumbers: (state, request) => {
    const { numberStockItemIds } = request.body as { numberStockItemIds: string[] };
    return { status: 201, body: { results: state.buyNumbers(path(request, "workspaceId"), numberStockItemIds) } };
  },

  listLongCodeNumbers: (state, request) => {
    const query = request.params.query;
    const filter = {
      numberString: query.numberString as string | undefined,
      countryCodes: query.countryCodes as string[] | undefined,
    };
    return ok(state.listNumbers(path(request, "workspaceId"), filter, pageRequest(query)));
  },

  getLongCodeNumber: (state, request) =>
    ok(state.getNumber(path(request, "workspaceId"), path(request, "longCodeNumberId"))),

  listAlphaNumbers: (state, request) =>
    ok(state.listSenders(path(request, "workspaceId"), pageRequest(request.params.query))),

  getAlphaNumber: (state, request) => ok(state.getSender(path(request, "workspaceId"), path(request, "alphaNumberId"))),

  activateDestinations: (state, request) =>
    ok(
      state.activate(
        endpointOf(state, request),
        request.body as DestinationsRequest,
        request.params.query.validate === true,
      ),
    ),

  deactivateDestinations: (state, request) =>
    ok(state.deactivate(endpointOf(state, request), request.body as DestinationsRequest)),

  listSubscriptions: (state, request) => ok(state.subscriptions(endpointOf(state, request))),

  getSubscription: (state, request) =>
    ok(state.subscription(endpointOf(state, request), path(request, "subscriptionName"))),

  cancelSubscription: (state, request) =>
    ok(state.cancel(endpointOf(state, request), path(request, "subscriptionName"))),
};

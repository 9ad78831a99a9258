export { startSimulator, type RunningSimulator } from "./server.js";
export { Simulator } from "./simulator.js";
export { loadSimulatorConfig, validateConfig, type SimulatorConfig } from "./config.js";
export type { CallStats, CallRecord, CallCount } from "./calls.js";
export type { AddNumbersRequest, AddSenderRequest, DestinationsRequest, StateSnapshot } from "./state.js";
export type { StockItemInput } from "./stock.js";
export * from "./types.js";

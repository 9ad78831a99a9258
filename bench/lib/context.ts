import type { BenchCluster } from "./cluster.js";
import type { OperatorRuntime } from "./operator-process.js";

/** How big each scenario is. */
export interface BenchSizes {
  /** PhoneNumbers bought in the provisioning scenario, one destination each. */
  numbers: number;
  /** AlphaSenders in the provisioning scenario (each a sender registered in the simulator). */
  senders: number;
  countriesPerSender: number;
  /** PhoneNumbers adopted in the scale scenario. */
  scaleNumbers: number;
  /** Spec changes timed in the reaction scenario. */
  reactionChanges: number;
  /** `--resync` of the operator during the idle-cost scenario, and how many intervals are measured. */
  idleResyncMs: number;
  idleIntervals: number;
  /** Steady state in the scale scenario: the operator made no Bird call and no write for this long. */
  steadyMs: number;
  /** Give up waiting for Ready after this long (per scenario). */
  timeoutMs: number;
}

export const FULL: BenchSizes = {
  numbers: 1000,
  senders: 100,
  countriesPerSender: 10,
  scaleNumbers: 10_000,
  reactionChanges: 100,
  idleResyncMs: 20_000,
  idleIntervals: 3,
  steadyMs: 10_000,
  timeoutMs: 30 * 60_000,
};

export const QUICK: BenchSizes = {
  numbers: 100,
  senders: 10,
  countriesPerSender: 10,
  scaleNumbers: 1000,
  reactionChanges: 20,
  idleResyncMs: 5000,
  idleIntervals: 3,
  steadyMs: 3000,
  timeoutMs: 5 * 60_000,
};

/**
 * How the scale scenario's set-up brings M numbers to the state a restart finds: a first operator adopts all of them,
 * or adopts a sample and the bench clones the sample's objects for the rest (auto: adopt up to 10,000, clone above).
 */
export const SCALE_SETUPS = ["auto", "adopt", "clone"] as const;
export type ScaleSetup = (typeof SCALE_SETUPS)[number];

export const SCENARIOS = ["provisioning", "reaction", "idle", "scale"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchContext {
  cluster: BenchCluster;
  sizes: BenchSizes;
  /** `--workers` of the operator (its default is 32). */
  workers: number;
  /** Operator logs and CPU profiles go here. */
  workDir: string;
  /** How the operator process runs: from source through tsx, or compiled as in the image. */
  runtime: OperatorRuntime;
  /** Run the operator with `node --cpu-prof` (profiles in workDir). */
  cpuProf: boolean;
  /** Write a V8 heap snapshot of the restarted scale operator once it is quiet (in workDir). */
  heapSnapshot?: boolean;
  log: (line: string) => void;
}

/** For the smoke test in `npm test`: proves the code runs end to end, measures nothing worth reading. */
export const SMOKE: BenchSizes = {
  numbers: 5,
  senders: 2,
  countriesPerSender: 3,
  scaleNumbers: 20,
  reactionChanges: 5,
  idleResyncMs: 3000,
  idleIntervals: 2,
  steadyMs: 1000,
  timeoutMs: 90_000,
};

import type { FaultSettings, RunningSimulator } from "../../src/simulator/index.js";
import type { Random } from "./specs.js";

/**
 * Turns Bird bad in phases, once a second: a base of 500/503s, resets and truncated bodies at the given rates, with
 * bursts of 429s, latency spikes (longer than the operator's per-attempt timeout) and phases where most buys are
 * carried out but answered with a reset or a truncated body mixed in. Returns a stop function that turns every
 * fault off.
 */
export function startFaultDriver(
  sim: RunningSimulator,
  random: Random,
  base: Omit<FaultSettings, "seed">,
  options: { spikeMs: number },
): { stop: () => void; phases: Record<string, number> } {
  const phases: Record<string, number> = { base: 0, "429-burst": 0, "latency-spike": 0, "ambiguous-buys": 0 };
  const apply = (): void => {
    const settings: FaultSettings = { ...base, seed: Math.floor(random() * 2 ** 31) };
    const roll = random();
    if (roll < 0.2) {
      settings.rateLimitBurst = { count: 20 + Math.floor(random() * 40) };
      phases["429-burst"] = (phases["429-burst"] ?? 0) + 1;
    } else if (roll < 0.35) {
      settings.latencyMs = options.spikeMs;
      settings.jitterMs = options.spikeMs;
      phases["latency-spike"] = (phases["latency-spike"] ?? 0) + 1;
    } else if (roll < 0.5) {
      // Buys that Bird carries out but whose answer never arrives whole: the case that could buy twice.
      Object.assign(settings, { routes: ["buyLongCodeNumbers"], resetRate: 0.4, malformedRate: 0.4 });
      phases["ambiguous-buys"] = (phases["ambiguous-buys"] ?? 0) + 1;
    } else {
      settings.jitterMs = 50;
      phases.base = (phases.base ?? 0) + 1;
    }
    sim.sim.setFaults(settings);
  };
  apply();
  const timer = setInterval(apply, 1000);
  return {
    phases,
    stop: () => {
      clearInterval(timer);
      sim.sim.setFaults({});
    },
  };
}

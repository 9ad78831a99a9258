import type { BirdWorkspace, PhoneNumber, PhoneNumberStatus } from "../../api/v1alpha1/index.js";
import { EventReason, Reason } from "../../api/v1alpha1/conditions.js";
import { isBirdApiError } from "../../bird/errors.js";
import type { LongCodeNumber } from "../../bird/types.js";
import type { SendGuard } from "../../bird/types.js";
import type { Logger } from "../../log.js";
import { PermanentError } from "../../runtime/errors.js";
import type { EventRecorder } from "../../runtime/events.js";
import { ACTIVATE_BATCH, chunk, DEACTIVATE_BATCH } from "../batches.js";
import { countryViolation } from "../guardrails.js";
import { desiredDestinations, destinationRows, planDestinations } from "./desired.js";
import type { NumberExternal } from "./external.js";

/**
 * Activates and deactivates what the spec asks, and records the rows in status. Only countries the operator manages
 * (in the spec now, or recorded in status from an earlier spec) are touched; a drifted count re-activates the set.
 */
export async function syncDestinations(
  pn: PhoneNumber,
  number: LongCodeNumber,
  external: NumberExternal,
  status: PhoneNumberStatus,
  deps: SyncDeps,
): Promise<void> {
  const recorded = status.destinations ?? [];
  const plan = planDestinations(pn.spec, recorded, number, external.countsCurrent(number.id));
  const state = new Map(recorded.map((r) => [`${r.capability}/${r.countryCode}`, r.status]));
  // The workspace's allowedCountries holds for destinations as for purchases: a country it does not list is never
  // activated (a drift repair included); the rest go ahead, and the resource shows PolicyViolation.
  const refused = withoutRefused(plan.activate, external.workspace, (key) => state.set(key, "refused"));
  if (plan.activate.size === 0 && plan.deactivate.size === 0 && !refused) return;
  const target: Target = { pn, number, external, state, deps };
  try {
    await activateDestinations(target, plan.activate);
    await deactivateDestinations(target, plan.deactivate);
  } finally {
    // What was done before a failure is recorded: the retry then does only the rest.
    status.destinations = [
      ...destinationRows(desiredDestinations(pn.spec), (capability, country) => state.get(`${capability}/${country}`)),
      ...removedPending(recorded, pn, state),
    ];
    // No re-read: the next list refresh brings Bird's counts, and drift is not judged on counts older than our write.
    if (plan.activate.size || plan.deactivate.size) external.markChanged(number.id);
  }
  if (refused) throw refused;
}

/**
 * Takes the countries the workspace's allowedCountries refuses out of `activate` (capability -> countries), telling
 * `refuse` each (`capability/country`); the PolicyViolation that reports them, if any. Exported for `plan`.
 */
export function withoutRefused(
  activate: Map<string, string[]>,
  workspace: BirdWorkspace,
  refuse: (key: string) => void = () => undefined,
): PermanentError | undefined {
  const messages: string[] = [];
  for (const [capability, countries] of activate) {
    const allowed = countries.filter((country) => {
      const message = countryViolation(workspace, country);
      if (!message) return true;
      messages.push(`${capability} destination ${message}`);
      refuse(`${capability}/${country}`);
      return false;
    });
    if (allowed.length) activate.set(capability, allowed);
    else activate.delete(capability);
  }
  if (!messages.length) return undefined;
  return new PermanentError(`not activated: ${messages.join("; ")}`, Reason.PolicyViolation);
}

/** `guard` is asked before each Bird write leaves (holderGuard). */
export interface SyncDeps {
  events: EventRecorder;
  log: Logger;
  guard?: SendGuard;
}

/** What one sync writes to, and the state (`capability/country` → status) it keeps as Bird answers. */
interface Target {
  pn: PhoneNumber;
  number: LongCodeNumber;
  external: NumberExternal;
  state: Map<string, string | undefined>;
  deps: SyncDeps;
}

async function activateDestinations(
  { pn, number, external, state, deps }: Target,
  activate: Map<string, string[]>,
): Promise<void> {
  for (const [capability, countries] of activate) {
    for (const batch of chunk(countries, ACTIVATE_BATCH)) {
      const result = await external.activate(number, capability, batch, deps.guard).catch((error: unknown) => {
        throw destinationError(error, number, capability, batch);
      });
      for (const country of batch) {
        const row = result.results?.find((d) => d.countryCode === country);
        state.set(
          `${capability}/${country}`,
          row?.capabilities?.find((c) => c.name === capability)?.status ?? "active",
        );
      }
      deps.log.info({ numberString: number.numberString, capability, countries: batch }, "Activated destinations");
      deps.events.record(
        pn,
        "Normal",
        EventReason.DestinationsActivated,
        `Activated ${capability} destinations ${batch.join(", ")} on ${number.numberString}`,
      );
    }
  }
}

async function deactivateDestinations(
  { pn, number, external, state, deps }: Target,
  deactivate: Map<string, string[]>,
): Promise<void> {
  for (const [capability, countries] of deactivate) {
    for (const batch of chunk(countries, DEACTIVATE_BATCH)) {
      await external.deactivate(number, capability, batch, deps.guard);
      for (const country of batch) state.delete(`${capability}/${country}`);
      deps.log.info({ numberString: number.numberString, capability, countries: batch }, "Deactivated destinations");
      deps.events.record(
        pn,
        "Normal",
        EventReason.DestinationsDeactivated,
        `Deactivated ${capability} destinations ${batch.join(", ")} on ${number.numberString}`,
      );
    }
  }
}

/** Rows of countries no longer desired that are still active (a deactivation that failed): kept so it is retried. */
function removedPending(
  recorded: NonNullable<PhoneNumberStatus["destinations"]>,
  pn: PhoneNumber,
  state: Map<string, string | undefined>,
): NonNullable<PhoneNumberStatus["destinations"]> {
  const desired = desiredDestinations(pn.spec);
  return recorded.filter(
    (r) =>
      r.status === "active" &&
      !desired.get(r.capability)?.includes(r.countryCode) &&
      state.has(`${r.capability}/${r.countryCode}`),
  );
}

/**
 * Bird's refusal to serve a destination becomes a condition that says which entry of the spec to change. Exported for
 * `bird-operator plan`, which reports a refused validation as the operator would report the refused activation.
 */
export function destinationError(
  error: unknown,
  number: LongCodeNumber,
  capability: string,
  countries: readonly string[],
): unknown {
  if (!isBirdApiError(error)) return error;
  if (error.code === "capability-is-not-supported") {
    return new PermanentError(
      `${number.numberString} has no outbound ${capability} capability, ` +
        `so Bird cannot activate ${capability} destinations on it: ` +
        `remove the ${capability} entry from spec.destinations (a number bought for such a spec has the capability)`,
      Reason.DestinationUnavailable,
      { cause: error },
    );
  }
  if (error.code === "destination-not-available") {
    const named = error.details?.countryCodes;
    const refused = Array.isArray(named) && named.length > 0 ? named.map(String) : countries;
    return new PermanentError(
      `Bird cannot activate ${capability} destinations ${refused.join(", ")} ` +
        `on ${number.numberString}${error.birdMessage ? ` (${error.birdMessage})` : ""}: ` +
        "remove them from spec.destinations",
      Reason.DestinationUnavailable,
      { cause: error },
    );
  }
  return error;
}

import {
  API_VERSION,
  BIRD_SENDER_KIND,
  type AlphaSender,
  type AlphaSenderSpec,
  type BirdSender,
} from "../api/v1alpha1/index.js";
import { Reason } from "../api/v1alpha1/conditions.js";
import { isBirdApiError } from "../bird/errors.js";
import type { AlphaNumber, EndpointSubscription, Money } from "../bird/types.js";
import { ACTIVATE_BATCH, chunk, DEACTIVATE_BATCH } from "../controllers/batches.js";
import { olderClaimant } from "../controllers/alpha-sender/claim.js";
import {
  CountryState,
  desiredCountries,
  destinationsDrifted,
  findSender,
  isProvisioned,
  needsQuote,
  observeCountries,
  planCountries,
  policyRefusal,
  screenPrices,
  type CountryPlan,
  type CountryRow,
  type Guardrails,
} from "../controllers/alpha-sender/desired.js";
import { charges, unservedCountries } from "../controllers/alpha-sender/reconciler.js";
import { deletionKeepReason, effectiveDeletionPolicy } from "../controllers/deletion-policy.js";
import { senderRecordName } from "../ownership/names.js";
import { boundTo, claimability, isHeldBy, Phase, type Claimant } from "../ownership/records.js";
import { countryKey } from "../ownership/usage.js";
import { admit, claimantOf, namespaceCheck, priceText, problem, type Change, type PlanContext } from "./context.js";
import type { ResourcePlan, TakeOverAction } from "./types.js";
import type { BirdView, WorkspaceState } from "./workspace-state.js";

const CAPABILITY = "sms";

/**
 * What the operator's next reconcile of this AlphaSender would do: admission, the claim on the sender (its BirdSender
 * record), then the countries to activate (checked by policy, asked of Bird with validate=true and screened against
 * price and spend limits), deactivate and cancel. Mirrors AlphaSenderReconciler.apply and SenderClaims.obtain.
 */
export async function planAlphaSender(context: PlanContext, change: Change<AlphaSender>): Promise<void> {
  if (change.plan.operation === "delete") return planDeletion(context, change);
  const alphaSender = change.desired;
  if (!alphaSender) return;
  const { plan, live } = change;
  const admitted = admit(context, alphaSender);
  if (!admitted.ok) {
    plan.problems.push(problem(admitted.reason, admitted.message));
    return;
  }
  const workspace = admitted.value;
  plan.deletionPolicy = effectiveDeletionPolicy(alphaSender, workspace.workspace);
  const bird = workspace.bird;
  if (!bird) return;
  const held = live ? heldRecord(context, live) : undefined;
  const sender = await locateSender(bird, alphaSender.spec);
  if (!sender) return senderNotFound(plan, alphaSender, workspace);
  const claimant = claimantOf(alphaSender, live);
  if (alphaSender.spec.managementPolicy === "ObserveOnly") return observe(plan, alphaSender, sender, workspace, held);
  const record = claimSender(context, plan, alphaSender, sender, workspace, held, claimant);
  if (!record) return;
  if (!isProvisioned(sender)) {
    plan.problems.push(
      problem(
        Reason.Provisioning,
        `Bird is still provisioning sender ${sender.alphaString}; its countries follow once it is provisioned`,
      ),
    );
    return;
  }
  await planSenderCountries(plan, alphaSender, live, { held, sender, record }, workspace, bird);
}

function senderNotFound(plan: ResourcePlan, alphaSender: AlphaSender, workspace: WorkspaceState): void {
  plan.problems.push(
    problem(
      Reason.SenderNotFound,
      `BirdWorkspace "${workspace.name}" has no alphanumeric sender ` +
        (alphaSender.spec.alphaNumberId
          ? `with id ${alphaSender.spec.alphaNumberId}`
          : `"${alphaSender.spec.alphaString}"`) +
        ": " +
        "register it with Bird first (no API creates senders)",
    ),
  );
}

/** The sender's countries as Bird has them, the plan for them, and what activating and releasing them would do. */
async function planSenderCountries(
  plan: ResourcePlan,
  alphaSender: AlphaSender,
  live: AlphaSender | undefined,
  { held, sender, record }: { held: BirdSender | undefined; sender: AlphaNumber; record: BirdSender },
  workspace: WorkspaceState,
  bird: BirdView,
): Promise<void> {
  const subscriptions = await bird.client.listSubscriptions(sender.endpointId);
  const rows = observeCountries(
    desiredCountries(alphaSender.spec),
    held ? (live?.status?.countries ?? []) : [],
    subscriptions,
  );
  const specChanged = alphaSender.metadata?.generation !== live?.status?.observedGeneration;
  const countries = planCountries(desiredCountries(alphaSender.spec), rows, {
    drifted: destinationsDrifted(rows.values(), sender),
    specChanged,
  });
  const guard: Guardrails = {
    workspace: workspace.workspace,
    maxPrice: alphaSender.spec.maxMonthlyPricePerCountry,
    committed: () => workspace.usage().prices,
  };
  const activated = await activate(plan, sender, record, { countries, rows }, guard, workspace, bird);
  const cancelled = release(plan, sender, countries, rows);
  settle(workspace, record, { subscriptions, activated, cancelled });
}

/** The record bound to the object's uid, as the plan has left it so far. */
function heldRecord(context: PlanContext, object: AlphaSender): BirdSender | undefined {
  const uid = object.metadata?.uid;
  if (!uid) return undefined;
  for (const workspace of context.workspaces.values())
    for (const record of workspace.senders.values()) if (record.spec.claimRef?.uid === uid) return record;
  return undefined;
}

/** The sender as the spec names it, from the workspace's list (one GET by id when the list lacks it). */
async function locateSender(bird: BirdView, spec: AlphaSenderSpec, knownId?: string): Promise<AlphaNumber | undefined> {
  const senders = await bird.inventory.senders();
  const id = knownId ?? spec.alphaNumberId;
  const listed = id ? senders.find((s) => s.id === id) : findSender(spec, senders);
  if (listed || !id) return listed;
  try {
    return await bird.inventory.reloadSender(id);
  } catch (error) {
    if (isBirdApiError(error) && error.kind === "not-found") return undefined;
    throw error;
  }
}

function observe(
  plan: ResourcePlan,
  alphaSender: AlphaSender,
  sender: AlphaNumber,
  workspace: WorkspaceState,
  held: BirdSender | undefined,
): void {
  const record = held ?? workspace.senders.get(senderRecordName(workspace.name, sender.id));
  if (!held && record?.spec.claimRef && record.spec.claimRef.namespace !== alphaSender.metadata?.namespace) {
    plan.problems.push(
      problem(
        Reason.SenderConflict,
        `sender ${sender.alphaString} is held by namespace "${record.spec.claimRef.namespace}"; ` +
          "ObserveOnly reports only senders of this namespace or no one's",
      ),
    );
  }
  plan.notes.push("managementPolicy ObserveOnly: the operator only reports, it writes nothing to Bird");
}

/**
 * The BirdSender record this AlphaSender holds or would claim: its own; an existing one it may take over
 * (claimability); none while an older admitted AlphaSender names the same sender (olderClaimant); else a new claim.
 */
function claimSender(
  context: PlanContext,
  plan: ResourcePlan,
  alphaSender: AlphaSender,
  sender: AlphaNumber,
  workspace: WorkspaceState,
  held: BirdSender | undefined,
  claimant: Claimant,
): BirdSender | undefined {
  if (held?.spec.alphaNumberId.toLowerCase() === sender.id.toLowerCase() && held.status?.phase === Phase.Bound)
    return held;
  const name = senderRecordName(workspace.name, sender.id);
  const existing =
    held?.spec.alphaNumberId.toLowerCase() === sender.id.toLowerCase() ? held : workspace.senders.get(name);
  if (existing) return takeOverRecord(plan, existing, name, sender, workspace, claimant);
  return claimNewRecord(context, plan, alphaSender, name, sender, workspace, claimant);
}

function takeOverRecord(
  plan: ResourcePlan,
  existing: BirdSender,
  name: string,
  sender: AlphaNumber,
  workspace: WorkspaceState,
  claimant: Claimant,
): BirdSender | undefined {
  const allowed = claimability(existing, claimant);
  if (!allowed.ok) {
    plan.problems.push(
      problem(
        Reason.SenderConflict,
        `sender ${sender.alphaString}: ${allowed.message}; this resource changes nothing in Bird`,
      ),
    );
    return undefined;
  }
  const from = takeOverFrom(existing, claimant);
  const taken = takenRecord(existing, sender, claimant);
  workspace.senders.set(name, taken);
  plan.actions.push({
    type: "take-over",
    record: name,
    target: sender.alphaString,
    from,
    description: `take over sender ${sender.alphaString} (record ${name}, ${from})`,
  });
  return taken;
}

function takenRecord(existing: BirdSender, sender: AlphaNumber, claimant: Claimant): BirdSender {
  return boundTo(
    {
      ...existing,
      status: {
        ...existing.status,
        phase: Phase.Bound,
        alphaString: sender.alphaString,
        endpointId: sender.endpointId,
      },
    },
    claimant,
  );
}

/** Whose the record was before the take-over, as the plan's action says it. */
function takeOverFrom(existing: BirdSender, claimant: Claimant): TakeOverAction["from"] {
  return isHeldBy(existing, claimant)
    ? "bound-again"
    : existing.status?.phase === Phase.Released
      ? "released"
      : existing.spec.claimRef
        ? "reserved"
        : "free";
}

/** No record names the sender yet: claimed with a new one, unless an older admitted AlphaSender names it too. */
function claimNewRecord(
  context: PlanContext,
  plan: ResourcePlan,
  alphaSender: AlphaSender,
  name: string,
  sender: AlphaNumber,
  workspace: WorkspaceState,
  claimant: Claimant,
): BirdSender | undefined {
  const older = olderClaimant(alphaSender, sender, context.alphaSenders, (o) => admit(context, o).ok);
  if (older) {
    plan.problems.push(
      problem(
        Reason.SenderConflict,
        `sender ${sender.alphaString} is claimed by ` +
          `the older AlphaSender ${older.metadata?.namespace}/${older.metadata?.name}; ` +
          "this resource changes nothing in Bird unless that one goes",
      ),
    );
    return undefined;
  }
  const record = newSenderRecord(name, workspace, sender, claimant);
  workspace.senders.set(name, record);
  plan.actions.push({
    type: "claim-sender",
    record: name,
    alphaString: sender.alphaString,
    description:
      `claim sender ${sender.alphaString} (record ${name}); ` +
      "its paid countries now count for the workspace's spend",
  });
  return record;
}

function newSenderRecord(name: string, workspace: WorkspaceState, sender: AlphaNumber, claimant: Claimant): BirdSender {
  return boundTo<BirdSender>(
    {
      apiVersion: API_VERSION,
      kind: BIRD_SENDER_KIND,
      metadata: { name },
      spec: { workspaceRef: { name: workspace.name }, alphaNumberId: sender.id },
      status: { phase: Phase.Bound, alphaString: sender.alphaString, endpointId: sender.endpointId, countries: [] },
    },
    claimant,
  );
}

/**
 * Countries to activate: drift repairs, and new countries that pass the workspace policy (policyRefusal), that Bird
 * accepts when asked with validate=true (a country Bird can never serve is CountryUnavailable) and, when a limit
 * applies, whose quoted prices fit it (screenPrices). Returns the countries activated and their prices.
 */
async function activate(
  plan: ResourcePlan,
  sender: AlphaNumber,
  record: BirdSender,
  { countries, rows }: { countries: CountryPlan; rows: ReadonlyMap<string, CountryRow> },
  guard: Guardrails,
  workspace: WorkspaceState,
  bird: BirdView,
): Promise<Map<string, Money | undefined>> {
  const { accepted, prices } = await screenFresh(plan, sender, countries.activate, guard, workspace, bird);
  for (const country of accepted)
    workspace.ledger.reserve(countryKey(record.metadata?.name ?? "", country), prices[country]);
  const activated = new Map<string, Money | undefined>([
    ...countries.repair.map((c): [string, undefined] => [c, undefined]),
    ...accepted.map((c): [string, Money | undefined] => [c, prices[c]]),
  ]);
  for (const batch of chunk([...activated.keys()].sort(), ACTIVATE_BATCH)) {
    const quoted = Object.fromEntries(batch.flatMap((c) => (prices[c] ? [[c, prices[c]]] : [])));
    const cost = batch.map((c) => `${c} ${priceText(prices[c] ?? rows.get(c)?.subscription?.price)}`).join(", ");
    plan.actions.push({
      type: "activate",
      capability: CAPABILITY,
      countries: batch,
      validation: "accepted",
      prices: quoted,
      description:
        `activate sms to ${cost} a month for sender ${sender.alphaString} ` + "(Bird accepts them: validate=true)",
    });
  }
  return activated;
}

/** New countries that pass the policy, Bird's validate-only call and, when a limit applies, the price screen. */
async function screenFresh(
  plan: ResourcePlan,
  sender: AlphaNumber,
  candidates: string[],
  guard: Guardrails,
  workspace: WorkspaceState,
  bird: BirdView,
): Promise<{ accepted: string[]; prices: Record<string, Money> }> {
  const fresh: string[] = [];
  for (const country of candidates) {
    const refusal = policyRefusal(country, guard);
    if (refusal)
      plan.problems.push(
        problem(refusal.reason, `not activating ${country} for sender ${sender.alphaString}: ${refusal.message}`),
      );
    else fresh.push(country);
  }
  const prices: Record<string, Money> = {};
  const quotable: string[] = [];
  for (const batch of chunk(fresh, ACTIVATE_BATCH)) {
    const answer = await validate(plan, sender, batch, bird);
    quotable.push(...answer.countries);
    Object.assign(prices, answer.prices);
  }
  let accepted = quotable;
  if (needsQuote(guard)) {
    const screened = screenPrices(quotable, prices, guard);
    accepted = screened.accepted;
    for (const [country, refusal] of screened.refused)
      plan.problems.push(
        problem(refusal.reason, `not activating ${country} for sender ${sender.alphaString}: ${refusal.message}`),
      );
  }
  return { accepted, prices };
}

/**
 * Bird's validate-only answer for a batch; countries Bird names as never served are refused and the rest asked again.
 */
async function validate(
  plan: ResourcePlan,
  sender: AlphaNumber,
  batch: string[],
  bird: BirdView,
): Promise<{ countries: string[]; prices: Record<string, Money> }> {
  try {
    const answer = await bird.client.activateDestinations(sender.endpointId, CAPABILITY, batch, { validate: true });
    return { countries: batch, prices: answer.subscriptionPrices ?? {} };
  } catch (error) {
    const refused = unservedCountries(error, batch);
    if (!refused.length) throw error;
    plan.problems.push(
      problem(
        Reason.CountryUnavailable,
        `Bird cannot send sms from sender ${sender.alphaString} to ${refused.join(", ")}: ` +
          "remove them from spec.countries",
      ),
    );
    const rest = batch.filter((c) => !refused.includes(c));
    return rest.length ? validate(plan, sender, rest, bird) : { countries: [], prices: {} };
  }
}

/** Countries no longer wanted: deactivated, and their subscriptions cancelled. Returns the countries cancelled. */
function release(
  plan: ResourcePlan,
  sender: AlphaNumber,
  countries: CountryPlan,
  rows: ReadonlyMap<string, CountryRow>,
): Set<string> {
  for (const batch of chunk(countries.deactivate, DEACTIVATE_BATCH)) {
    plan.actions.push({
      type: "deactivate",
      capability: CAPABILITY,
      countries: batch,
      description: `deactivate sms to ${batch.join(", ")} for sender ${sender.alphaString}`,
    });
  }
  for (const country of countries.cancel) {
    const price = rows.get(country)?.subscription?.price;
    plan.actions.push({
      type: "cancel-subscription",
      endpointId: sender.endpointId,
      subscription: country,
      target: sender.alphaString,
      monthlyPrice: price,
      description: `cancel the ${country} subscription of sender ${sender.alphaString} (${priceText(price)} a month)`,
    });
  }
  return new Set(countries.cancel);
}

/** The record as the operator leaves it: its paid countries (charges), so later resources' checks count them. */
function settle(
  workspace: WorkspaceState,
  record: BirdSender,
  done: { subscriptions: EndpointSubscription[]; activated: Map<string, Money | undefined>; cancelled: Set<string> },
): void {
  const name = record.metadata?.name ?? "";
  const rows = new Map<string, CountryRow>();
  for (const [countryCode, price] of done.activated)
    if (price)
      rows.set(countryCode, {
        countryCode,
        status: CountryState.Active,
        subscription: { status: CountryState.Active, price },
      });
  const countries = charges({ subscriptions: done.subscriptions, rows, cancelled: done.cancelled });
  workspace.senders.set(name, { ...record, status: { ...record.status, countries } });
  for (const country of done.activated.keys()) workspace.ledger.release(countryKey(name, country));
}

/**
 * Deletion: Retain, ObserveOnly or a namespace no longer admitted
 * release the record; Delete deactivates and cancels every country.
 */
async function planDeletion(context: PlanContext, change: Change<AlphaSender>): Promise<void> {
  const { plan, live } = change;
  if (!live || plan.apiServer.dryRun === "refused") return;
  const held = heldRecord(context, live);
  const workspace = context.workspaces.get(live.spec.workspaceRef.name);
  const policy = effectiveDeletionPolicy(live, workspace?.workspace);
  plan.deletionPolicy = policy;
  if (!held) {
    plan.notes.push("holds no sender: nothing to release or cancel");
    return;
  }
  const owner = context.workspaces.get(held.spec.workspaceRef.name);
  const alphaString = held.status?.alphaString ?? live.spec.alphaString ?? held.spec.alphaNumberId;
  const keep = deletionKeepReason(live, policy, () => namespaceCheck(context, live));
  if (keep) return keepSender(plan, held, owner, alphaString, keep);
  const bird = owner?.bird;
  if (!workspace || !owner || !bird) {
    if (!workspace)
      plan.problems.push(
        problem(
          Reason.WorkspaceNotFound,
          `cannot release the countries of sender ${alphaString}: BirdWorkspace "${live.spec.workspaceRef.name}" ` +
            "not found. To let go without cancelling, set spec.deletionPolicy: Retain",
        ),
      );
    return;
  }
  await releaseSender(plan, live, held, owner, bird);
}

/** Retain (or a reason like it): the record turns Released and the countries stay paid for. */
function keepSender(
  plan: ResourcePlan,
  held: BirdSender,
  owner: WorkspaceState | undefined,
  alphaString: string,
  keep: string,
): void {
  const name = held.metadata?.name ?? "";
  owner?.senders.set(name, { ...held, status: { ...held.status, phase: Phase.Released } });
  plan.actions.push({
    type: "release",
    record: name,
    target: alphaString,
    why: keep,
    description:
      `keep sender ${alphaString} (${keep}): its countries stay active and paid for, ` +
      `record ${name} turns Released`,
  });
}

/** Delete: every country the resource manages is deactivated and cancelled, then the record goes. */
async function releaseSender(
  plan: ResourcePlan,
  live: AlphaSender,
  held: BirdSender,
  owner: WorkspaceState,
  bird: BirdView,
): Promise<void> {
  const name = held.metadata?.name ?? "";
  const sender = await locateSender(bird, live.spec, held.spec.alphaNumberId);
  if (sender) {
    const subscriptions = await bird.client.listSubscriptions(sender.endpointId);
    const rows = observeCountries(desiredCountries(live.spec), live.status?.countries ?? [], subscriptions);
    release(plan, sender, planCountries([], rows, { drifted: false, specChanged: false }), rows);
  }
  owner.senders.delete(name);
  plan.notes.push(
    `the record ${name} is removed once its countries are released` +
      (sender ? "" : " (the sender is no longer in the workspace)"),
  );
}

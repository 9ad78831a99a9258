import {
  API_VERSION,
  BIRD_NUMBER_KIND,
  type BirdNumber,
  type BirdWorkspace,
  type PhoneNumber,
} from "../api/v1alpha1/index.js";
import { Reason } from "../api/v1alpha1/conditions.js";
import { isBirdApiError } from "../bird/errors.js";
import { formatMoney, type Money } from "../bird/money.js";
import type { LongCodeNumber, NumberStockItem } from "../bird/types.js";
import { ACTIVATE_BATCH, chunk, DEACTIVATE_BATCH } from "../controllers/batches.js";
import { desiredDestinations, planDestinations } from "../controllers/phone-number/desired.js";
import { destinationError, withoutRefused } from "../controllers/phone-number/destinations.js";
import { stockSource } from "../controllers/phone-number/external.js";
import { lookupNumber } from "../workspace/lookup.js";
import { chooseStockItem, quotaRefusal } from "../controllers/phone-number/purchase.js";
import { deletionKeepReason, effectiveDeletionPolicy } from "../controllers/deletion-policy.js";
import { numberRecordName } from "../ownership/names.js";
import { boundTo, claimability, Phase, type Claimant } from "../ownership/records.js";
import {
  admit,
  claimantOf,
  namespaceCheck,
  priceText,
  problem,
  problemOf,
  type Change,
  type PlanContext,
} from "./context.js";
import type { ResourcePlan } from "./types.js";
import type { BirdView, WorkspaceState } from "./workspace-state.js";

/** What one reconcile has to work with once the claim is settled: the number, if it exists yet. */
interface Claimed {
  number?: LongCodeNumber;
}

/**
 * What the operator's next reconciles of this PhoneNumber would do, decided with the operator's own functions
 * (admission, claimability, stock choice, quota, destinations) against the cluster and Bird as they are now, plus
 * what the plan decided for the resources before it. Mirrors PhoneNumberReconciler.apply and NumberClaims.
 */
export async function planPhoneNumber(context: PlanContext, change: Change<PhoneNumber>): Promise<void> {
  if (change.plan.operation === "delete") return planDeletion(context, change);
  const pn = change.desired;
  if (!pn) return;
  const { plan, live } = change;
  const held = live ? heldRecord(context, live) : undefined;
  const admitted = admit(context, pn);
  if (!admitted.ok) {
    const keeps =
      held && admitted.reason === Reason.Forbidden
        ? `; it still holds ${held.spec.numberString} and nothing changes in Bird until the namespace is allowed again`
        : "";
    plan.problems.push(problem(admitted.reason, admitted.message + keeps));
    return;
  }
  const workspace = admitted.value;
  plan.deletionPolicy = effectiveDeletionPolicy(pn, workspace.workspace);
  const bird = workspace.bird;
  if (!bird) return;
  const claimant = claimantOf(pn, live);
  const observeOnly = pn.spec.managementPolicy === "ObserveOnly";
  if (observeOnly && !held) return observe(plan, pn, workspace, bird);
  const claimed = held
    ? await keepHeld(plan, held, workspace, bird, claimant)
    : await claim(context, plan, pn, live, workspace, bird, claimant);
  if (!claimed || observeOnly) return;
  if (!claimed.number) return activateAfterPurchase(plan, pn, workspace.workspace);
  await destinations(
    plan,
    pn,
    held ? (live?.status?.destinations ?? []) : [],
    claimed.number,
    workspace.workspace,
    bird,
  );
}

/** A number still to be bought: its destinations are activated once it exists, unvalidated until then. */
function activateAfterPurchase(plan: ResourcePlan, pn: PhoneNumber, workspace: BirdWorkspace): void {
  const desired = desiredDestinations(pn.spec);
  refuseByPolicy(plan, desired, workspace);
  for (const [capability, countries] of desired) {
    for (const batch of chunk(countries, ACTIVATE_BATCH)) {
      plan.actions.push({
        type: "activate",
        capability,
        countries: batch,
        validation: "after-purchase",
        description:
          `activate ${capability} destinations ${batch.join(", ")} once the number is provisioned ` +
          "(Bird can validate them only for a number that exists)",
      });
    }
  }
}

/** The record bound to the object's uid, in any workspace, as the plan has left it so far. */
function heldRecord(context: PlanContext, object: PhoneNumber): BirdNumber | undefined {
  const uid = object.metadata?.uid;
  if (!uid) return undefined;
  for (const workspace of context.workspaces.values())
    for (const record of workspace.numbers.values()) if (record.spec.claimRef?.uid === uid) return record;
  return undefined;
}

/**
 * ObserveOnly without a record: only reports; a number another
 * namespace holds, or one not in the workspace, is said so.
 */
async function observe(plan: ResourcePlan, pn: PhoneNumber, workspace: WorkspaceState, bird: BirdView): Promise<void> {
  const numberString = pn.spec.numberString ?? "";
  const record = workspace.numbers.get(numberRecordName(workspace.name, numberString));
  if (record?.spec.claimRef && record.spec.claimRef.namespace !== pn.metadata?.namespace) {
    plan.problems.push(
      problem(
        Reason.NumberConflict,
        `${numberString} is held by namespace "${record.spec.claimRef.namespace}"; ` +
          "ObserveOnly reports only numbers of this namespace or no one's",
      ),
    );
  } else if (!(await bird.inventory.numberByString(numberString))) {
    plan.problems.push(
      problem(
        Reason.NumberUnavailable,
        `ObserveOnly: ${numberString} is not in the workspace; nothing is bought in this mode`,
      ),
    );
  }
  plan.notes.push("managementPolicy ObserveOnly: the operator only reports, it writes nothing to Bird");
}

/** The record the object holds already: Bound stays; Purchasing is resolved first; anything else is bound again. */
async function keepHeld(
  plan: ResourcePlan,
  held: BirdNumber,
  workspace: WorkspaceState,
  bird: BirdView,
  claimant: Claimant,
): Promise<Claimed | undefined> {
  const name = held.metadata?.name ?? "";
  if (held.status?.phase === Phase.Purchasing) {
    plan.problems.push(
      problem(
        Reason.PurchasePending,
        `the purchase of ${held.spec.numberString} was interrupted; ` +
          "the operator looks the number up before anything else",
      ),
    );
    return undefined;
  }
  const number = await findNumber(bird, held);
  if (!number) {
    plan.problems.push(
      problem(
        Reason.NumberLost,
        `${held.spec.numberString} is no longer in the workspace; nothing is bought to replace it`,
      ),
    );
    return undefined;
  }
  if (held.status?.phase !== Phase.Bound) {
    workspace.numbers.set(name, boundTo({ ...held, status: { ...held.status, phase: Phase.Bound } }, claimant));
    plan.actions.push({
      type: "take-over",
      record: name,
      target: held.spec.numberString,
      from: "bound-again",
      description: `bind ${held.spec.numberString} again (record ${name} was ${held.status?.phase})`,
    });
  }
  return { number };
}

/**
 * No record yet: the number status names (reclaim), the exact
 * number the spec names (take over, adopt or buy), or a purchase.
 */
async function claim(
  context: PlanContext,
  plan: ResourcePlan,
  pn: PhoneNumber,
  live: PhoneNumber | undefined,
  workspace: WorkspaceState,
  bird: BirdView,
  claimant: Claimant,
): Promise<Claimed | undefined> {
  if (live?.status?.boundTo) return reclaim(context, plan, pn, live, workspace, bird, claimant);
  if (!pn.spec.numberString) return buy(context, plan, pn, workspace, bird);
  const name = numberRecordName(workspace.name, pn.spec.numberString);
  const existing = workspace.numbers.get(name);
  if (existing) return takeOver(context, plan, pn, existing, workspace, bird, claimant);
  if (workspace.ledger.has(name)) {
    plan.problems.push(
      problem(
        Reason.NumberConflict,
        `${pn.spec.numberString} is bought for another resource of this change; ` +
          "two resources cannot hold one number (whichever the operator reconciles first gets it)",
      ),
    );
    return undefined;
  }
  const number = await bird.inventory.numberByString(pn.spec.numberString);
  return number ? adopt(plan, pn, number, workspace, bird, claimant) : buy(context, plan, pn, workspace, bird);
}

/**
 * Status says the object was bound but no record binds it: the number is claimed again if free; nothing is ever bought.
 */
async function reclaim(
  context: PlanContext,
  plan: ResourcePlan,
  pn: PhoneNumber,
  live: PhoneNumber,
  workspace: WorkspaceState,
  bird: BirdView,
  claimant: Claimant,
): Promise<Claimed | undefined> {
  const numberString = live.status?.numberString;
  const lost = (why: string): undefined =>
    void plan.problems.push(
      problem(
        Reason.NumberLost,
        `the BirdNumber record ${live.status?.boundTo} this resource was bound to is gone and ${why}; ` +
          "nothing is bought to replace it",
      ),
    );
  if (!numberString) return lost("its status names no number");
  const existing = workspace.numbers.get(numberRecordName(workspace.name, numberString));
  if (existing) return takeOver(context, plan, pn, existing, workspace, bird, claimant);
  const number = await bird.inventory.numberByString(numberString);
  return number
    ? adopt(plan, pn, number, workspace, bird, claimant)
    : lost(`${numberString} is no longer in the workspace`);
}

/**
 * A record exists: taken over when claimability allows it (free,
 * reserved for the namespace, released by it), else a conflict.
 */
async function takeOver(
  context: PlanContext,
  plan: ResourcePlan,
  pn: PhoneNumber,
  record: BirdNumber,
  workspace: WorkspaceState,
  bird: BirdView,
  claimant: Claimant,
): Promise<Claimed | undefined> {
  const allowed = claimability(record, claimant);
  if (!allowed.ok) {
    plan.problems.push(problem(Reason.NumberConflict, `${record.spec.numberString}: ${allowed.message}`));
    return undefined;
  }
  const number = record.status?.numberId
    ? await numberById(bird, record.status.numberId)
    : await bird.inventory.numberByString(record.spec.numberString);
  if (!number) return buy(context, plan, pn, workspace, bird, record);
  const name = record.metadata?.name ?? "";
  const from = record.status?.phase === Phase.Released ? "released" : record.spec.claimRef ? "reserved" : "free";
  workspace.numbers.set(name, takenRecord(record, number, claimant));
  const how = { released: "released by this namespace before", reserved: "reserved for this namespace", free: "free" }[
    from
  ];
  plan.actions.push({
    type: "take-over",
    record: name,
    target: number.numberString,
    from,
    description: `take over ${number.numberString} (${how}): nothing is bought`,
  });
  return { number };
}

function takenRecord(record: BirdNumber, number: LongCodeNumber, claimant: Claimant): BirdNumber {
  return boundTo(
    {
      ...record,
      status: { ...record.status, phase: Phase.Bound, numberId: number.id, endpointId: number.endpointId },
    },
    claimant,
  );
}

/**
 * A number in the workspace no record knows: its record is created. Its price is learned once (one GET) and counted.
 */
async function adopt(
  plan: ResourcePlan,
  pn: PhoneNumber,
  number: LongCodeNumber,
  workspace: WorkspaceState,
  bird: BirdView,
  claimant: Claimant,
): Promise<Claimed> {
  const name = numberRecordName(workspace.name, number.numberString);
  const monthlyPrice = await mainPrice(bird, number);
  const record: BirdNumber = {
    apiVersion: API_VERSION,
    kind: BIRD_NUMBER_KIND,
    metadata: { name },
    spec: { workspaceRef: { name: workspace.name }, numberString: number.numberString },
    status: { phase: Phase.Bound, numberId: number.id, endpointId: number.endpointId, monthlyPrice },
  };
  workspace.numbers.set(name, boundTo(record, claimant));
  plan.actions.push({
    type: "adopt",
    numberString: number.numberString,
    numberId: number.id,
    record: name,
    monthlyPrice,
    description:
      `adopt ${number.numberString}: the workspace owns it already (${priceText(monthlyPrice)} a month, ` +
      "now counted by the workspace's limits), nothing is bought",
  });
  return { number };
}

/**
 * A purchase: the stock item the operator would choose now (chooseStockItem), checked against the workspace's quota
 * and spend with everything the plan bought before it (quotaRefusal), then counted like a claim in flight.
 */
async function buy(
  context: PlanContext,
  plan: ResourcePlan,
  pn: PhoneNumber,
  workspace: WorkspaceState,
  bird: BirdView,
  reserved?: BirdNumber,
): Promise<Claimed | undefined> {
  const item = await pickStockItem(context, plan, pn, workspace, bird, reserved);
  if (!item) return undefined;
  const quota = quotaRefusal(workspace.workspace, workspace.usage(), item);
  if (quota) {
    plan.problems.push(problem(Reason.QuotaExceeded, quota));
    return undefined;
  }
  const record = numberRecordName(workspace.name, item.numberString);
  workspace.ledger.reserve(record, item.monthlyPrice);
  const into = reserved ? ` into the record ${record} reserved for this namespace` : "";
  plan.actions.push({
    type: "buy",
    numberString: item.numberString,
    stockItemId: item.id,
    countryCode: item.countryCode,
    numberType: item.type,
    monthlyPrice: item.monthlyPrice,
    record,
    description:
      `buy ${item.numberString} (${item.countryCode} ${item.type}) ` +
      `for ${formatMoney(item.monthlyPrice)} a month${into}`,
  });
  if (!pn.spec.numberString)
    plan.notes.push(
      "the number is whatever is first in stock when the operator buys; " +
        `${item.numberString} is the one it would pick now`,
    );
  return {};
}

/** The stock item the operator would choose now; undefined (and the refusal reported) when it would choose none. */
async function pickStockItem(
  context: PlanContext,
  plan: ResourcePlan,
  pn: PhoneNumber,
  workspace: WorkspaceState,
  bird: BirdView,
  reserved: BirdNumber | undefined,
): Promise<NumberStockItem | undefined> {
  // As the operator: a record reserved for the namespace is bought into only with the number it names.
  const free = (item: { numberString: string }): boolean => {
    const name = numberRecordName(workspace.name, item.numberString);
    if (reserved) return name === reserved.metadata?.name;
    return !workspace.numbers.has(name) && !workspace.ledger.has(name);
  };
  try {
    return await chooseStockItem(
      pn,
      stockSource({ workspace: workspace.workspace, client: bird.client, stockPool: bird.stockPool }),
      free,
      context.resyncMs,
    );
  } catch (error) {
    const refused = problemOf(error);
    if (!refused) throw error;
    plan.problems.push(refused);
    return undefined;
  }
}

/**
 * Destinations to activate and deactivate (planDestinations, the operator's own), each activation asked of Bird with
 * validate=true. A refusal stops there, as it stops the operator's reconcile: what would follow it is not done.
 */
async function destinations(
  plan: ResourcePlan,
  pn: PhoneNumber,
  recorded: NonNullable<NonNullable<PhoneNumber["status"]>["destinations"]>,
  number: LongCodeNumber,
  workspace: BirdWorkspace,
  bird: BirdView,
): Promise<void> {
  const wanted = planDestinations(pn.spec, recorded, number, true);
  refuseByPolicy(plan, wanted.activate, workspace);
  for (const [capability, countries] of wanted.activate) {
    for (const batch of chunk(countries, ACTIVATE_BATCH)) {
      if (!(await validateActivation(plan, number, capability, batch, bird))) return;
      plan.actions.push({
        type: "activate",
        capability,
        countries: batch,
        validation: "accepted",
        description:
          `activate ${capability} destinations ${batch.join(", ")} on ${number.numberString} ` +
          "(Bird accepts them: validate=true)",
      });
    }
  }
  for (const [capability, countries] of wanted.deactivate) {
    for (const batch of chunk(countries, DEACTIVATE_BATCH)) {
      plan.actions.push({
        type: "deactivate",
        capability,
        countries: batch,
        description: `deactivate ${capability} destinations ${batch.join(", ")} on ${number.numberString}`,
      });
    }
  }
}

/**
 * Countries the workspace's allowedCountries refuses: reported, and left out of what is activated (as the operator
 * does).
 */
function refuseByPolicy(plan: ResourcePlan, activate: Map<string, string[]>, workspace: BirdWorkspace): void {
  const refused = problemOf(withoutRefused(activate, workspace));
  if (refused) plan.problems.push(refused);
}

/** Asks Bird with validate=true; false when Bird refuses (reported), which stops the plan's destinations there. */
async function validateActivation(
  plan: ResourcePlan,
  number: LongCodeNumber,
  capability: string,
  batch: string[],
  bird: BirdView,
): Promise<boolean> {
  try {
    await bird.client.activateDestinations(number.endpointId, capability, batch, { validate: true });
    return true;
  } catch (error) {
    const mapped = destinationError(error, number, capability, batch);
    const refused = problemOf(mapped) ?? birdRefusal(error);
    if (!refused) throw error;
    plan.problems.push(refused);
    plan.notes.push(
      `Bird refuses activating ${capability} ${batch.join(", ")} (asked with validate=true): ` +
        "the operator activates nothing of that call and stops there",
    );
    return false;
  }
}

/** Bird's refusal of a validation that the operator has no reason of its own for: it would fail the reconcile. */
function birdRefusal(error: unknown): ReturnType<typeof problem> | undefined {
  if (!isBirdApiError(error) || error.kind !== "permanent") return undefined;
  return { reason: Reason.ReconcileError, message: error.message, severity: "violation" };
}

/**
 * Deletion acts only on the record bound to the object's uid: kept (Released) for Retain, ObserveOnly or a namespace
 * no longer admitted (deletionKeepReason), else `main` is cancelled and the record removed. Mirrors cleanup.
 */
function planDeletion(context: PlanContext, change: Change<PhoneNumber>): void {
  const { plan, live } = change;
  if (!live || plan.apiServer.dryRun === "refused") return;
  const held = heldRecord(context, live);
  const workspace = context.workspaces.get(live.spec.workspaceRef.name);
  const policy = effectiveDeletionPolicy(live, workspace?.workspace);
  plan.deletionPolicy = policy;
  if (!held) {
    plan.notes.push("holds no number: nothing to release or cancel");
    return;
  }
  const owner = context.workspaces.get(held.spec.workspaceRef.name);
  if (held.status?.phase === Phase.Lost) return forgetLost(plan, held, owner);
  const keep = deletionKeepReason(live, policy, () => namespaceCheck(context, live));
  if (keep) return keepNumber(plan, held, owner, keep);
  if (!workspace || !owner) {
    plan.problems.push(
      problem(
        Reason.WorkspaceNotFound,
        `cannot cancel ${held.spec.numberString}: BirdWorkspace "${live.spec.workspaceRef.name}" not found. ` +
          "To let go without cancelling, set spec.deletionPolicy: Retain",
      ),
    );
    return;
  }
  cancelNumber(plan, held, owner);
}

function forgetLost(plan: ResourcePlan, held: BirdNumber, owner: WorkspaceState | undefined): void {
  const name = held.metadata?.name ?? "";
  owner?.numbers.delete(name);
  plan.actions.push({
    type: "forget-record",
    record: name,
    description: `remove the record ${name}: ${held.spec.numberString} had left the workspace, nothing to cancel`,
  });
}

function keepNumber(plan: ResourcePlan, held: BirdNumber, owner: WorkspaceState | undefined, keep: string): void {
  const name = held.metadata?.name ?? "";
  owner?.numbers.set(name, { ...held, status: { ...held.status, phase: Phase.Released } });
  plan.actions.push({
    type: "release",
    record: name,
    target: held.spec.numberString,
    why: keep,
    description:
      `keep ${held.spec.numberString} (${keep}): ` + `record ${name} turns Released, still paid for and counted`,
  });
}

/** Delete: `main` is cancelled and the record removed, unless an interrupted purchase must be resolved first. */
function cancelNumber(plan: ResourcePlan, held: BirdNumber, owner: WorkspaceState): void {
  const name = held.metadata?.name ?? "";
  const endpointId = held.status?.endpointId ?? held.status?.numberId;
  if (held.status?.phase === Phase.Purchasing || !endpointId) {
    plan.problems.push(
      problem(
        Reason.PurchasePending,
        `the purchase of ${held.spec.numberString} was interrupted; ` +
          "the operator resolves it before it cancels anything",
      ),
    );
    return;
  }
  owner.numbers.delete(name);
  owner.cancelled.add(held.spec.numberString);
  plan.actions.push({
    type: "cancel-subscription",
    endpointId,
    subscription: "main",
    target: held.spec.numberString,
    monthlyPrice: held.status?.monthlyPrice,
    description:
      `cancel the main subscription of ${held.spec.numberString} ` +
      `(${priceText(held.status?.monthlyPrice)} a month): Bird releases the number at the end of the period`,
  });
}

/** The number a record binds, as Bird has it now (by id, else looked up by its string); undefined when it is gone. */
async function findNumber(bird: BirdView, record: BirdNumber): Promise<LongCodeNumber | undefined> {
  const id = record.status?.numberId;
  return id ? numberById(bird, id) : lookupNumber(bird, record.spec.numberString);
}

/** What the record controller learns of an adopted number: the price of its `main` subscription. */
async function mainPrice(bird: BirdView, number: LongCodeNumber): Promise<Money | undefined> {
  try {
    return (await bird.client.getSubscription(number.endpointId, "main")).price;
  } catch (error) {
    if (isBirdApiError(error) && error.kind === "not-found") return undefined;
    throw error;
  }
}

async function numberById(bird: BirdView, id: string): Promise<LongCodeNumber | undefined> {
  const cached = await bird.inventory.number(id);
  if (cached) return cached;
  try {
    return await bird.inventory.reloadNumber(id);
  } catch (error) {
    if ((isBirdApiError(error) && error.kind === "not-found") || error instanceof RangeError) return undefined;
    throw error;
  }
}

import { PurchaseGrace } from "../../src/ownership/purchase-grace.js";
import type { V1Namespace } from "@kubernetes/client-node";
import { describe, expect, it, vi } from "vitest";
import type {
  BirdNumber,
  BirdSender,
  BirdWorkspace,
  PhoneNumber,
  PhoneNumberSpec,
  PhoneNumberStatus,
} from "../../src/api/v1alpha1/index.js";
import { FINALIZER } from "../../src/api/v1alpha1/conditions.js";
import { Admission } from "../../src/controllers/admission.js";
import { LegacyClaims } from "../../src/controllers/phone-number/legacy.js";
import { NumberClaims } from "../../src/controllers/phone-number/claim.js";
import { Purchaser } from "../../src/controllers/phone-number/purchase.js";
import { PhoneNumberReconciler } from "../../src/controllers/phone-number/reconciler.js";
import {
  workspaceUsable,
  type WorkspaceConnection,
  type WorkspaceConnections,
} from "../../src/workspace/connections.js";
import { silentLogger } from "../../src/log.js";
import { numberRecordName } from "../../src/ownership/names.js";
import { RecordStore } from "../../src/ownership/records.js";
import { UsageBook } from "../../src/ownership/usage.js";
import { classifyError } from "../../src/runtime/errors.js";
import { Waiters } from "../../src/runtime/waiters.js";
import { FakeKube, recordingEvents, staticInformer, type FakeResources, type RecordedEvent } from "./fake-kube.js";
import { birdError, FakeNumbers, longCode, PRICE, stockItem } from "./fake-numbers.js";

const NOW = new Date("2026-01-10T00:00:00Z");
const NUMBER = "+12125550100";
const OTHER = "+12125550111";
const RESYNC_MS = 600_000;

function workspace(spec: Partial<BirdWorkspace["spec"]> = {}, ready = true): BirdWorkspace {
  return {
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "BirdWorkspace",
    metadata: { name: "ws", creationTimestamp: new Date("2026-01-01T00:00:00Z") },
    spec: {
      organizationId: "o",
      workspaceId: "w",
      accessKeySecretRef: { namespace: "bird-system", name: "key" },
      allowedNamespaces: { names: ["team-a"] },
      ...spec,
    },
    status: {
      conditions: [
        {
          type: "Ready",
          status: ready ? "True" : "False",
          reason: ready ? "Ready" : "Unauthorized",
          message: "",
          lastTransitionTime: "2026-01-01T00:00:00Z",
        },
      ],
    },
  };
}

function phoneNumber(spec: Partial<PhoneNumberSpec> = {}): PhoneNumber {
  return {
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "PhoneNumber",
    metadata: { name: "pn", namespace: "team-a", uid: "pn-uid", generation: 1 },
    spec: { workspaceRef: { name: "ws" }, countryCode: "US", type: "local", ...spec },
  };
}

function record(
  numberString: string,
  claim: { namespace: string; name?: string; uid?: string } | undefined,
  status: BirdNumber["status"],
): BirdNumber {
  const labels = claim?.uid ? { "numbers.birdoperator.dev/claim-uid": claim.uid } : undefined;
  return {
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "BirdNumber",
    metadata: { name: numberRecordName("ws", numberString), labels },
    spec: { workspaceRef: { name: "ws" }, numberString, claimRef: claim },
    status,
  };
}

/**
 * One test's world: the cluster in memory, Bird as a call-recording fake, and the reconciler wired as operator.ts does.
 */
class World {
  readonly kube = new FakeKube();
  readonly phoneNumbers: FakeResources<PhoneNumber> = this.kube.resources("PhoneNumber");
  readonly records: FakeResources<BirdNumber> = this.kube.resources("BirdNumber");
  readonly events: RecordedEvent[];
  readonly bird: FakeNumbers;
  readonly grace: PurchaseGrace;
  /** What Manager.mayAct answers: false once this replica's lease is no longer fresh. */
  mayAct = true;
  /** The purchase grace's clock (the reconciler's own stays at NOW). */
  graceClock: Date;
  private readonly reconciler: PhoneNumberReconciler;

  constructor(ws: BirdWorkspace = workspace()) {
    this.bird = new FakeNumbers(ws);
    const { recorder, events } = recordingEvents();
    this.events = events;
    const connect = (name: string): ReturnType<WorkspaceConnections["connect"]> =>
      name === "ws"
        ? { ok: true, value: { workspace: this.bird.workspace } as WorkspaceConnection }
        : { ok: false, reason: "WorkspaceNotFound", message: `BirdWorkspace "${name}" not found` };
    const connectReady = (name: string): ReturnType<WorkspaceConnections["connect"]> => {
      const connected = connect(name);
      const usable = connected.ok ? workspaceUsable(connected.value.workspace, [connected.value.workspace]) : connected;
      return usable.ok ? connected : usable;
    };
    const connections = { connect, connectReady } as unknown as WorkspaceConnections;
    const namespaces = staticInformer<V1Namespace>([
      { metadata: { name: "team-a" } },
      { metadata: { name: "team-b" } },
    ]);
    const admission = new Admission({ connections, namespaces, operatorNamespace: "bird-system", resyncMs: RESYNC_MS });
    const records = new RecordStore(this.records.client, this.records.informer);
    const senders = this.kube.resources<BirdSender>("BirdSender");
    const usage = new UsageBook(records, new RecordStore(senders.client, senders.informer));
    const now = (): Date => NOW;
    // This process has led for an hour: the grace of a purchase it did not send runs from its claim.
    this.graceClock = new Date(NOW.getTime() - 3_600_000);
    this.grace = new PurchaseGrace(60_000, () => this.graceClock);
    this.graceClock = NOW;
    const grace = this.grace;
    const purchaser = new Purchaser({ records, usage, events: recorder, resyncMs: RESYNC_MS, grace, now });
    const legacy = new LegacyClaims(this.phoneNumbers.informer);
    const claims = new NumberClaims({
      records,
      purchaser,
      legacy,
      client: this.phoneNumbers.client,
      events: recorder,
      waiters: new Waiters(() => undefined),
      purchaseGraceMs: 60_000,
      grace,
      now,
    });
    this.reconciler = new PhoneNumberReconciler({
      client: this.phoneNumbers.client,
      informer: this.phoneNumbers.informer,
      connections,
      events: recorder,
      admission,
      resyncMs: RESYNC_MS,
      now,
      records,
      claims,
      mayAct: () => this.mayAct,
      external: () => this.bird,
    });
  }

  /** A PhoneNumber that holds `number` (Bound record, finalizer, status from an earlier reconcile). */
  holding(pn: PhoneNumber, number: ReturnType<typeof longCode>, status: Partial<PhoneNumberStatus> = {}): this {
    this.bird.has(number);
    const boundTo = this.records.seed(
      record(
        number.numberString,
        { namespace: "team-a", name: "pn", uid: "pn-uid" },
        { phase: "Bound", numberId: number.id, endpointId: number.endpointId, monthlyPrice: PRICE },
      ),
    );
    const ready = [
      {
        type: "Ready",
        status: "True" as const,
        reason: "Available",
        message: "",
        lastTransitionTime: "2026-01-01T00:00:00Z",
        observedGeneration: 1,
      },
    ];
    const subscription = { name: "main", status: "active", startAt: "2026-01-01T00:00:00Z" };
    const base: PhoneNumberStatus = {
      boundTo: boundTo.metadata.name,
      numberString: number.numberString,
      numberId: number.id,
      monthlyPrice: PRICE,
      subscription,
      conditions: ready,
      observedGeneration: 1,
    };
    this.phoneNumbers.seed({
      ...pn,
      metadata: { ...pn.metadata, finalizers: [FINALIZER] },
      status: { ...base, ...status },
    });
    return this;
  }

  tap(configure: (world: this) => unknown): this {
    configure(this);
    return this;
  }

  with(pn: PhoneNumber): this {
    this.phoneNumbers.seed(pn);
    return this;
  }

  /** Marks the object deleted (its finalizer holds it). */
  deleting(): this {
    void this.phoneNumbers.client.delete("team-a", "pn");
    this.kube.writes.length = 0;
    return this;
  }

  async reconcile(): Promise<{ error?: unknown }> {
    try {
      await this.reconciler.reconcile("team-a/pn", { log: silentLogger(), reconcileId: "r" });
      return {};
    } catch (error) {
      return { error };
    }
  }

  /** What a test compares: Bird writes, the outcome class, conditions, the record's phase, the finalizer. */
  async outcome(): Promise<Outcome> {
    const { error } = await this.reconcile();
    const pn = this.phoneNumbers.get("team-a", "pn");
    const condition = (type: string): string | undefined =>
      pn?.status?.conditions?.find((c) => c.type === type)?.reason;
    const synced = pn?.status?.conditions?.find((c) => c.type === "Synced");
    const records = this.records.all().filter((r) => r.spec.claimRef?.uid === "pn-uid");
    return {
      bird: this.bird.writes(),
      result: error ? classifyError(error) : synced?.status === "False" ? "waiting" : "ok",
      ready: condition("Ready"),
      synced: condition("Synced"),
      record: records[0]?.status?.phase ?? "none",
      object: !pn ? "gone" : pn.metadata?.finalizers?.includes(FINALIZER) ? "finalizer" : "no finalizer",
    };
  }
}

interface Outcome {
  bird: string[];
  result: "ok" | "waiting" | ReturnType<typeof classifyError>;
  ready?: string;
  synced?: string;
  record: string;
  object: "gone" | "finalizer" | "no finalizer";
}

interface Case {
  reason: string;
  world: () => World;
  want: Partial<Outcome>;
  events?: string[];
}

const sms = (...countryCodes: string[]): PhoneNumberSpec["destinations"] => [{ capability: "sms", countryCodes }];
const rows = (...countries: string[]): PhoneNumberStatus["destinations"] =>
  countries.map((countryCode) => ({ capability: "sms", countryCode, status: "active" }));
const success = { result: "ok", synced: "ReconcileSuccess" } as const;

function buying(spec: Partial<PhoneNumberSpec> = {}): World {
  const world = new World().with(phoneNumber(spec));
  world.bird.stock = [stockItem(NUMBER)];
  return world;
}

/** A PhoneNumber whose purchase of OTHER was left Purchasing `agoMs` ago; Bird does not show OTHER; NUMBER in stock. */
function purchasing(agoMs: number): World {
  const world = new World();
  world.bird.stock = [stockItem(NUMBER)];
  const startedAt = new Date(NOW.getTime() - agoMs).toISOString();
  world.records.seed(
    record(
      OTHER,
      { namespace: "team-a", name: "pn", uid: "pn-uid" },
      { phase: "Purchasing", purchase: { stockItemId: "item-other", startedAt } },
    ),
  );
  const pn = phoneNumber();
  world.phoneNumbers.seed({ ...pn, metadata: { ...pn.metadata, finalizers: [FINALIZER] } });
  return world;
}

function holdingWith(spec: Partial<PhoneNumberSpec>, status: Partial<PhoneNumberStatus>, activeSms: number): World {
  return new World().holding(phoneNumber(spec), longCode(NUMBER, { activeSms }), status);
}

function deleting(spec: Partial<PhoneNumberSpec>, ws?: BirdWorkspace): World {
  const world = new World(ws).holding(phoneNumber(spec), longCode(NUMBER));
  return world.deleting();
}

const cases: Case[] = [
  // Create: buy, or adopt what the workspace has; refusals before any Bird write.
  {
    reason: "no record, stock fits: buys it and binds the record",
    world: () => buying(),
    want: { ...success, bird: [`buy ${NUMBER}`], ready: "Available", record: "Bound", object: "finalizer" },
    events: ["Purchased"],
  },
  {
    reason: "buys, then activates the spec's destinations in one call",
    world: () => buying({ destinations: sms("US", "CA") }),
    want: { ...success, bird: [`buy ${NUMBER}`, `activate ${NUMBER} sms CA,US`], ready: "Available", record: "Bound" },
    events: ["Purchased", "DestinationsActivated"],
  },
  {
    reason: "a bought number still provisioning: its first status waits for it to be provisioned",
    world: () => buying().tap((w) => (w.bird.boughtProvisioning = "pending")),
    want: { bird: [`buy ${NUMBER}`], result: "ok", ready: undefined, record: "Bound", object: "finalizer" },
  },
  {
    reason: "spec.numberString the workspace has: adopts it, buys nothing",
    world: () => new World().with(phoneNumber({ numberString: OTHER })).tap((w) => w.bird.has(longCode(OTHER))),
    want: { ...success, bird: [], ready: "Available", record: "Bound", object: "finalizer" },
    events: ["Adopted"],
  },
  {
    reason: "no stock matches: NumberUnavailable, nothing bought, polled",
    world: () => new World().with(phoneNumber()),
    want: { bird: [], result: "waiting", ready: "NumberUnavailable", synced: "NumberUnavailable", record: "none" },
  },
  {
    reason: "stock above spec.maxMonthlyPrice: PriceAboveLimit, nothing bought",
    world: () => buying({ maxMonthlyPrice: { currencyCode: "EUR", amount: 50, exponent: 2 } }),
    want: { bird: [], result: "waiting", ready: "PriceAboveLimit", record: "none" },
  },
  {
    reason: "the workspace's maxNumbers reached: QuotaExceeded, nothing bought",
    world: () => {
      const world = new World(workspace({ policy: { maxNumbers: 1 } })).with(phoneNumber());
      world.bird.stock = [stockItem(NUMBER)];
      world.bird.has(longCode(OTHER));
      return world;
    },
    want: { bird: [], result: "waiting", ready: "QuotaExceeded", record: "none" },
  },
  {
    reason: "a namespace the workspace does not admit: Forbidden, no finalizer, nothing claimed",
    world: () => buying().tap((w) => (w.bird.workspace = workspace({ allowedNamespaces: { names: ["team-b"] } }))),
    want: { bird: [], result: "permanent", ready: "Forbidden", record: "none", object: "no finalizer" },
  },
  {
    reason: "a workspace not Ready: WorkspaceNotReady, polled, nothing claimed",
    world: () => new World(workspace({}, false)).with(phoneNumber()),
    want: { bird: [], result: "waiting", ready: "WorkspaceNotReady", record: "none", object: "no finalizer" },
  },

  // Conflict: a record another object holds is never taken, whatever the spec says.
  {
    reason: "the number is held by another namespace: NumberConflict, nothing bought",
    world: () =>
      new World()
        .with(phoneNumber({ numberString: OTHER }))
        .tap((w) => w.bird.has(longCode(OTHER)))
        .tap((w) =>
          w.records.seed(
            record(
              OTHER,
              { namespace: "team-b", name: "theirs", uid: "their-uid" },
              { phase: "Bound", numberId: longCode(OTHER).id },
            ),
          ),
        ),
    want: { bird: [], result: "permanent", ready: "NumberConflict", synced: "NumberConflict", record: "none" },
    events: ["ClaimRefused"],
  },
  {
    reason: "a copy (same namespace, another object holds the number): NumberConflict, nothing bought",
    world: () =>
      new World()
        .with(phoneNumber({ numberString: OTHER }))
        .tap((w) => w.bird.has(longCode(OTHER)))
        .tap((w) =>
          w.records.seed(
            record(
              OTHER,
              { namespace: "team-a", name: "original", uid: "original-uid" },
              { phase: "Bound", numberId: longCode(OTHER).id },
            ),
          ),
        ),
    want: { bird: [], result: "permanent", ready: "NumberConflict", record: "none" },
  },

  // Update: destinations, the exact calls.
  {
    reason: "destinations diff: activates the added country, deactivates the removed one",
    world: () => holdingWith({ destinations: sms("US", "CA") }, { destinations: rows("DE", "US") }, 2),
    want: {
      ...success,
      bird: [`activate ${NUMBER} sms CA`, `deactivate ${NUMBER} sms DE`],
      ready: "Available",
      record: "Bound",
    },
    events: ["DestinationsActivated", "DestinationsDeactivated"],
  },
  {
    reason: "destinations up to date: no Bird write",
    world: () => holdingWith({ destinations: sms("US", "CA") }, { destinations: rows("CA", "US") }, 2),
    want: { ...success, bird: [], ready: "Available" },
  },
  {
    reason: "Bird counts fewer active than recorded (drift): re-activates the whole desired set",
    world: () => holdingWith({ destinations: sms("US", "CA") }, { destinations: rows("CA", "US") }, 1),
    want: { ...success, bird: [`activate ${NUMBER} sms CA,US`] },
  },
  {
    reason: "counts older than our own last write: no drift judged, no Bird write",
    world: () =>
      holdingWith({ destinations: sms("US", "CA") }, { destinations: rows("CA", "US") }, 1).tap((w) =>
        w.bird.stale.add(longCode(NUMBER).id),
      ),
    want: { ...success, bird: [] },
  },
  {
    reason: "a destination country the workspace policy does not allow: not activated, the rest are, PolicyViolation",
    world: () =>
      new World(workspace({ policy: { allowedCountries: ["US"] } })).holding(
        phoneNumber({ destinations: sms("US", "CA") }),
        longCode(NUMBER, { activeSms: 0 }),
      ),
    want: {
      bird: [`activate ${NUMBER} sms US`],
      result: "permanent",
      ready: "PolicyViolation",
      synced: "PolicyViolation",
      record: "Bound",
    },
    events: ["DestinationsActivated", "PolicyViolation"],
  },
  {
    reason: "drift on a country the policy no longer allows: the allowed ones are repaired, it is not, PolicyViolation",
    world: () =>
      new World(workspace({ policy: { allowedCountries: ["US"] } })).holding(
        phoneNumber({ destinations: sms("US", "CA") }),
        longCode(NUMBER, { activeSms: 1 }),
        { destinations: rows("CA", "US") },
      ),
    want: { bird: [`activate ${NUMBER} sms US`], result: "permanent", ready: "PolicyViolation" },
  },
  {
    reason: "a country active before the policy left it out: kept, no Bird write, Ready",
    world: () =>
      new World(workspace({ policy: { allowedCountries: ["US"] } })).holding(
        phoneNumber({ destinations: sms("US", "CA") }),
        longCode(NUMBER, { activeSms: 2 }),
        { destinations: rows("CA", "US") },
      ),
    want: { ...success, bird: [], ready: "Available" },
  },
  {
    reason: "the held number left the workspace: NumberLost, record Lost, nothing bought",
    world: () => holdingWith({}, {}, 0).tap((w) => w.bird.numbers.clear()),
    want: { bird: [], result: "waiting", ready: "NumberLost", record: "Lost" },
  },

  // ObserveOnly never writes to Bird, and never claims.
  {
    reason: "ObserveOnly: reports the workspace's number, claims nothing, no finalizer",
    world: () =>
      new World()
        .with(phoneNumber({ numberString: OTHER, managementPolicy: "ObserveOnly", destinations: sms("US") }))
        .tap((w) => w.bird.has(longCode(OTHER))),
    want: { ...success, bird: [], ready: "Available", record: "none", object: "no finalizer" },
  },
  {
    reason: "ObserveOnly, number not in the workspace: NumberUnavailable, nothing bought",
    world: () => buying({ numberString: NUMBER, managementPolicy: "ObserveOnly" }),
    want: { bird: [], result: "waiting", ready: "NumberUnavailable", record: "none", object: "no finalizer" },
  },
  {
    reason: "ObserveOnly, number held by another namespace: NumberConflict, nothing reported",
    world: () =>
      new World()
        .with(phoneNumber({ numberString: OTHER, managementPolicy: "ObserveOnly" }))
        .tap((w) => w.bird.has(longCode(OTHER)))
        .tap((w) => w.records.seed(record(OTHER, { namespace: "team-b", uid: "their-uid" }, { phase: "Bound" }))),
    want: { bird: [], result: "waiting", ready: "NumberConflict" },
  },
  {
    reason: "ObserveOnly holding a record with a destinations diff: no activation",
    world: () =>
      holdingWith({ managementPolicy: "ObserveOnly", destinations: sms("US", "CA") }, { destinations: rows("DE") }, 1),
    want: { ...success, bird: [], record: "Bound" },
  },

  // Delete, by the effective policy.
  {
    reason: "deleted, policy Delete: cancels main, removes the record and the finalizer",
    world: () => deleting({ deletionPolicy: "Delete" }),
    want: { result: "ok", bird: [`cancel ${longCode(NUMBER).endpointId}`], record: "none", object: "gone" },
    events: ["SubscriptionCancelled"],
  },
  {
    reason: "deleted, no policy, workspace default Delete: cancels",
    world: () => deleting({}, workspace({ defaultDeletionPolicy: "Delete" })),
    want: { bird: [`cancel ${longCode(NUMBER).endpointId}`], record: "none", object: "gone" },
  },
  {
    reason: "deleted, policy Retain: record Released, nothing cancelled",
    world: () => deleting({ deletionPolicy: "Retain" }),
    want: { result: "ok", bird: [], record: "Released", object: "gone" },
    events: ["Retained"],
  },
  {
    reason: "deleted, no policy anywhere: Retain",
    world: () => deleting({}),
    want: { bird: [], record: "Released", object: "gone" },
  },
  {
    reason: "deleted while ObserveOnly, policy Delete: Released, nothing cancelled",
    world: () => deleting({ deletionPolicy: "Delete", managementPolicy: "ObserveOnly" }),
    want: { bird: [], record: "Released", object: "gone" },
  },
  {
    reason: "deleted, policy Delete, namespace no longer admitted: Released, nothing cancelled",
    world: () => deleting({ deletionPolicy: "Delete" }, workspace({ allowedNamespaces: { names: ["team-b"] } })),
    want: { bird: [], record: "Released", object: "gone" },
  },
  {
    reason: "deleted, policy Delete, namespace no longer admitted, workspace not Ready: Released, nothing cancelled",
    world: () => deleting({ deletionPolicy: "Delete" }, workspace({ allowedNamespaces: { names: ["team-b"] } }, false)),
    want: { bird: [], record: "Released", object: "gone" },
  },
  {
    reason: "deleted, policy Delete, the number already gone from Bird: done, record removed",
    world: () => deleting({ deletionPolicy: "Delete" }).tap((w) => w.bird.numbers.clear()),
    want: { bird: [`cancel ${longCode(NUMBER).endpointId}`], record: "none", object: "gone" },
  },
  {
    reason: "deleted, holding nothing: finalizer goes, Bird untouched",
    world: () =>
      new World()
        .with({
          ...phoneNumber({ deletionPolicy: "Delete" }),
          metadata: { ...phoneNumber().metadata, finalizers: [FINALIZER] },
        })
        .deleting(),
    want: { bird: [], record: "none", object: "gone" },
  },
];

/** Each error class, where it matters most: the buy (what it costs) and the destinations and cancel (what it keeps). */
const errorCases: Case[] = [
  {
    reason: "buy answered 5xx: looked up once, not there, claim withdrawn",
    world: () => buying().tap((w) => w.bird.fail("buy", birdError(503))),
    want: {
      bird: [`buy ${NUMBER}`],
      result: "transient",
      ready: "CannotPurchase",
      synced: "CannotPurchase",
      record: "none",
    },
    events: ["PurchaseFailed", "CannotPurchase"],
  },
  {
    reason: "buy answered 429: claim withdrawn, retried with backoff",
    world: () => buying().tap((w) => w.bird.fail("buy", birdError(429))),
    want: { bird: [`buy ${NUMBER}`], result: "transient", synced: "CannotPurchase", record: "none" },
  },
  {
    reason: "buy timed out (ambiguous): the record stays Purchasing for a lookup",
    world: () => buying().tap((w) => w.bird.fail("buy", birdError(0))),
    want: { bird: [`buy ${NUMBER}`], result: "transient", synced: "PurchasePending", record: "Purchasing" },
  },
  {
    // Its record is reserved again for the namespace, naming a number Bird no longer has: only that one may be bought.
    reason: "bound to a record re-reserved for a number gone from Bird: buys no other number into it",
    world: () => {
      const world = new World();
      world.bird.stock = [stockItem(NUMBER)];
      const reserved = world.records.seed(record(OTHER, { namespace: "team-a" }, { phase: "Reserved" }));
      const pn = phoneNumber();
      world.phoneNumbers.seed({
        ...pn,
        metadata: { ...pn.metadata, finalizers: [FINALIZER] },
        status: { boundTo: reserved.metadata?.name, numberString: OTHER },
      });
      return world;
    },
    want: { bird: [], result: "waiting", ready: "NumberUnavailable" },
  },
  {
    reason: "a purchase left Purchasing longer than the grace, Bird does not show it: withdrawn, another bought",
    world: () => purchasing(3_600_000),
    want: { bird: [`buy ${NUMBER}`], result: "ok" },
    events: ["PurchaseIntentCleared", "Purchased"],
  },
  {
    // A buy sent by an earlier leader may have waited in its batcher for minutes after the claim: the grace runs from
    // when this process began to lead, the latest such a buy can have gone out.
    reason: "the same, but this process began leading within the grace: waits, nothing bought",
    world: () => purchasing(3_600_000).tap((w) => w.grace.leading()),
    want: { bird: [], result: "waiting", synced: "PurchasePending" },
  },
  {
    reason: "buy answered 422: claim withdrawn, another item tried soon",
    world: () => buying().tap((w) => w.bird.fail("buy", birdError(422))),
    want: { bird: [`buy ${NUMBER}`], result: "transient", synced: "CannotPurchase", record: "none" },
  },
  {
    reason: "buy answered 400: claim withdrawn, permanent",
    world: () => buying().tap((w) => w.bird.fail("buy", birdError(400))),
    want: {
      bird: [`buy ${NUMBER}`],
      result: "permanent",
      ready: "CannotPurchase",
      synced: "CannotPurchase",
      record: "none",
    },
  },
  {
    reason: "buy answered 404: claim withdrawn, permanent",
    world: () => buying().tap((w) => w.bird.fail("buy", birdError(404))),
    want: { bird: [`buy ${NUMBER}`], result: "permanent", synced: "CannotPurchase", record: "none" },
  },
  {
    reason: "activate answered 5xx: Synced False, Ready stays True, retried",
    world: () => holdingWith({ destinations: sms("US") }, {}, 0).tap((w) => w.bird.fail("activate", birdError(503))),
    want: {
      bird: [`activate ${NUMBER} sms US`],
      result: "transient",
      ready: "Available",
      synced: "ReconcileError",
      record: "Bound",
    },
  },
  {
    reason: "activate answered 429: Synced False, Ready stays True, retried",
    world: () => holdingWith({ destinations: sms("US") }, {}, 0).tap((w) => w.bird.fail("activate", birdError(429))),
    want: { bird: [`activate ${NUMBER} sms US`], result: "transient", ready: "Available", synced: "ReconcileError" },
  },
  {
    reason: "activate timed out: Synced False, retried",
    world: () => holdingWith({ destinations: sms("US") }, {}, 0).tap((w) => w.bird.fail("activate", birdError(0))),
    want: { bird: [`activate ${NUMBER} sms US`], result: "transient", synced: "ReconcileError" },
  },
  {
    reason: "activate refused (422 destination-not-available): DestinationUnavailable, permanent",
    world: () =>
      holdingWith({ destinations: sms("US") }, {}, 0).tap((w) =>
        w.bird.fail("activate", birdError(422, "destination-not-available", { countryCodes: ["US"] })),
      ),
    want: {
      bird: [`activate ${NUMBER} sms US`],
      result: "permanent",
      ready: "DestinationUnavailable",
      synced: "DestinationUnavailable",
    },
    events: ["DestinationUnavailable"],
  },
  {
    // Bird's own permanent error is not a PermanentError: Ready stays as it was (only the operator's refusals flip it).
    reason: "activate answered 400: Synced False with Bird's error, permanent",
    world: () => holdingWith({ destinations: sms("US") }, {}, 0).tap((w) => w.bird.fail("activate", birdError(400))),
    want: { bird: [`activate ${NUMBER} sms US`], result: "permanent", ready: "Available", synced: "ReconcileError" },
  },
  {
    reason: "the subscription's details answered 5xx: Synced False, Ready stays True",
    world: () =>
      holdingWith({}, { subscription: { name: "main", status: "active" } }, 0).tap((w) =>
        w.bird.fail("subscription", birdError(503)),
      ),
    want: { bird: [], result: "transient", ready: "Available", synced: "ReconcileError" },
  },
  {
    reason: "cancel answered 5xx: the finalizer and the record stay, retried",
    world: () => deleting({ deletionPolicy: "Delete" }).tap((w) => w.bird.fail("cancel", birdError(503))),
    want: {
      bird: [`cancel ${longCode(NUMBER).endpointId}`],
      result: "transient",
      ready: "Deleting",
      synced: "ReconcileError",
      record: "Bound",
      object: "finalizer",
    },
  },
  {
    reason: "cancel timed out: the finalizer and the record stay, retried",
    world: () => deleting({ deletionPolicy: "Delete" }).tap((w) => w.bird.fail("cancel", birdError(0))),
    want: {
      bird: [`cancel ${longCode(NUMBER).endpointId}`],
      result: "transient",
      record: "Bound",
      object: "finalizer",
    },
  },
  {
    reason: "cancel answered 400: the finalizer and the record stay",
    world: () => deleting({ deletionPolicy: "Delete" }).tap((w) => w.bird.fail("cancel", birdError(400))),
    want: {
      bird: [`cancel ${longCode(NUMBER).endpointId}`],
      result: "permanent",
      ready: "Deleting",
      record: "Bound",
      object: "finalizer",
    },
  },
];

describe("PhoneNumberReconciler, against a call-recording Bird", () => {
  it.each(cases)("$reason", async ({ world, want, events }) => {
    const w = world();
    const outcome = await w.outcome();
    expect(outcome).toMatchObject(want);
    if (events) expect(w.events.map((e) => e.reason)).toEqual(expect.arrayContaining(events));
  });

  it.each(errorCases)("$reason", async ({ world, want, events }) => {
    const w = world();
    expect(await w.outcome()).toMatchObject(want);
    if (events) expect(w.events.map((e) => e.reason)).toEqual(expect.arrayContaining(events));
  });
});

describe("PhoneNumberReconciler: an unclear buy's grace", () => {
  it("runs from the buy's answer, not from the claim: a buy that waited in the batcher is not given up", async () => {
    const world = buying().tap((w) => {
      w.bird.fail("buy", birdError(0));
      // The buy waited ten minutes for the workspace's batcher before it went out and timed out.
      w.bird.beforeBuyAnswer = () => (w.graceClock = new Date(NOW.getTime() + 600_000));
    });
    await world.reconcile();
    const [record] = world.records.all();
    expect(record?.status?.phase).toBe("Purchasing");
    // The claim is ten minutes old, the grace one: Bird may still list the number a minute after the answer.
    expect(world.grace.remainingMs(record as BirdNumber)).toBe(60_000);
  });

  it("a buy Bird answers with another number binds nothing: the record stays Purchasing for a lookup", async () => {
    const world = buying().tap((w) => (w.bird.boughtAs = OTHER));
    const outcome = await world.outcome();
    expect(outcome).toMatchObject({ result: "transient", synced: "PurchasePending", record: "Purchasing" });
    const [record] = world.records.all();
    expect(record?.spec.numberString).toBe(NUMBER);
    expect(record?.status?.numberId).toBeUndefined();
  });
});

describe("PhoneNumberReconciler: a Bird write on a held number leaves only if the record still binds it", () => {
  /** Another namespace's resource now holds the record (the platform team freed it, and it was claimed). */
  const takenOver = (w: World): void => {
    const [held] = w.records.all();
    if (held)
      w.records.seed({ ...held, spec: { ...held.spec, claimRef: { namespace: "team-b", name: "b", uid: "b" } } });
  };

  it("a cancel that waited to leave while the record was taken over is not sent; the retry holds nothing", async () => {
    const world = deleting({ deletionPolicy: "Delete" }).tap((w) => (w.bird.beforeSend = () => takenOver(w)));
    expect(await world.outcome()).toMatchObject({ bird: [], result: "transient", object: "finalizer" });
    world.bird.beforeSend = undefined;
    expect(await world.outcome()).toMatchObject({ bird: [], result: "ok", object: "gone" });
    expect(world.records.all()[0]?.spec.claimRef?.uid).toBe("b");
  });

  it("the same for a destination change", async () => {
    const world = holdingWith({ destinations: sms("US", "CA") }, { destinations: rows("DE", "US") }, 2).tap(
      (w) => (w.bird.beforeSend = () => takenOver(w)),
    );
    expect(await world.outcome()).toMatchObject({ bird: [], result: "transient" });
  });

  it("nor while this replica's lease is no longer fresh", async () => {
    const world = deleting({ deletionPolicy: "Delete" }).tap((w) => (w.bird.beforeSend = () => (w.mayAct = false)));
    expect(await world.outcome()).toMatchObject({ bird: [], result: "transient", object: "finalizer" });
  });
});

describe("PhoneNumberReconciler: a second reconcile in a row writes nothing, to Bird or Kubernetes", () => {
  it.each([
    { reason: "after a buy with destinations", world: () => buying({ destinations: sms("US", "CA") }) },
    {
      reason: "after an adoption",
      world: () => new World().with(phoneNumber({ numberString: OTHER })).tap((w) => w.bird.has(longCode(OTHER))),
    },
    {
      reason: "after a destinations diff",
      world: () => holdingWith({ destinations: sms("US", "CA") }, { destinations: rows("DE", "US") }, 2),
    },
    {
      reason: "ObserveOnly",
      world: () =>
        new World()
          .with(phoneNumber({ numberString: OTHER, managementPolicy: "ObserveOnly" }))
          .tap((w) => w.bird.has(longCode(OTHER))),
    },
  ])("$reason", async ({ world }) => {
    const w = world();
    await w.reconcile();
    // The details of main come on a later reconcile, once: let that one pass too.
    await w.reconcile();
    w.bird.stale.clear();
    const before = { kube: w.kube.writes.length, bird: w.bird.writes().length };
    expect(await w.reconcile()).toEqual({});
    expect({ kube: w.kube.writes.slice(before.kube), bird: w.bird.writes().slice(before.bird) }).toEqual({
      kube: [],
      bird: [],
    });
  });
});

describe("PhoneNumberReconciler: when the API server is asked which record an object holds", () => {
  it("not for a new object (no finalizer yet: it never claimed), which is bought for with one list fewer", async () => {
    const w = buying();
    const lists = vi.spyOn(w.records.client, "list");
    expect(await w.outcome()).toMatchObject({ ...success, record: "Bound", object: "finalizer" });
    expect(lists).not.toHaveBeenCalled();
  });

  it("for an object the operator reported on, its finalizer removed (a tenant can; its status it cannot)", async () => {
    const w = buying();
    const reported = { observedGeneration: 1, conditions: [] };
    w.phoneNumbers.seed({ ...phoneNumber(), status: reported });
    const lists = vi.spyOn(w.records.client, "list");
    await w.reconcile();
    expect(lists).toHaveBeenCalledWith({ labelSelector: "numbers.birdoperator.dev/claim-uid=pn-uid" });
  });

  it("for an object that carries the finalizer and that the cache shows holding nothing", async () => {
    const w = buying();
    w.phoneNumbers.seed({ ...phoneNumber(), metadata: { ...phoneNumber().metadata, finalizers: [FINALIZER] } });
    const lists = vi.spyOn(w.records.client, "list");
    await w.reconcile();
    expect(lists).toHaveBeenCalledWith({ labelSelector: "numbers.birdoperator.dev/claim-uid=pn-uid" });
  });
});

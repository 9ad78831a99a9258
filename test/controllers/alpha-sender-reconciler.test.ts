import type { V1Namespace } from "@kubernetes/client-node";
import { describe, expect, it, vi } from "vitest";
import type {
  AlphaSender,
  AlphaSenderSpec,
  AlphaSenderStatus,
  BirdNumber,
  BirdSender,
  BirdWorkspace,
} from "../../src/api/v1alpha1/index.js";
import { FINALIZER } from "../../src/api/v1alpha1/conditions.js";
import { Admission } from "../../src/controllers/admission.js";
import { SenderClaims } from "../../src/controllers/alpha-sender/claim.js";
import { AlphaSenderReconciler } from "../../src/controllers/alpha-sender/reconciler.js";
import {
  workspaceUsable,
  type WorkspaceConnection,
  type WorkspaceConnections,
} from "../../src/workspace/connections.js";
import { silentLogger } from "../../src/log.js";
import { senderRecordName } from "../../src/ownership/names.js";
import { RecordStore } from "../../src/ownership/records.js";
import { countryKey, UsageBook } from "../../src/ownership/usage.js";
import { classifyError } from "../../src/runtime/errors.js";
import { Waiters } from "../../src/runtime/waiters.js";
import { FakeKube, recordingEvents, staticInformer, type FakeResources, type RecordedEvent } from "./fake-kube.js";
import { birdError, PRICE } from "./fake-numbers.js";
import { alphaSender, FakeSenders } from "./fake-senders.js";

const NOW = new Date("2026-01-10T00:00:00Z");
const RESYNC_MS = 600_000;
const ACME = alphaSender("ACME");

function workspace(spec: Partial<BirdWorkspace["spec"]> = {}): BirdWorkspace {
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
        { type: "Ready", status: "True", reason: "Ready", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" },
      ],
    },
  };
}

function sender(spec: Partial<AlphaSenderSpec> = {}): AlphaSender {
  return {
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "AlphaSender",
    metadata: { name: "as", namespace: "team-a", uid: "as-uid", generation: 1 },
    spec: { workspaceRef: { name: "ws" }, alphaString: "ACME", ...spec },
  };
}

function record(claim: { namespace: string; name?: string; uid?: string }, countries: string[] = []): BirdSender {
  const labels = claim.uid ? { "numbers.birdoperator.dev/claim-uid": claim.uid } : undefined;
  return {
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "BirdSender",
    metadata: { name: senderRecordName("ws", ACME.id), labels },
    spec: { workspaceRef: { name: "ws" }, alphaNumberId: ACME.id, claimRef: claim },
    status: {
      phase: "Bound",
      alphaString: "ACME",
      endpointId: ACME.endpointId,
      countries: countries.map((countryCode) => ({ countryCode, price: PRICE })),
    },
  };
}

/** One test's world: the cluster in memory, Bird as a call-recording fake, the reconciler wired as operator.ts does. */
class World {
  readonly kube = new FakeKube();
  readonly senders: FakeResources<AlphaSender> = this.kube.resources("AlphaSender");
  readonly records: FakeResources<BirdSender> = this.kube.resources("BirdSender");
  readonly events: RecordedEvent[];
  readonly bird: FakeSenders;
  readonly usage: UsageBook;
  private readonly reconciler: AlphaSenderReconciler;

  constructor(ws: BirdWorkspace = workspace()) {
    this.bird = new FakeSenders(ws);
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
    const numbers = this.kube.resources<BirdNumber>("BirdNumber");
    const usage = (this.usage = new UsageBook(new RecordStore(numbers.client, numbers.informer), records));
    const now = (): Date => NOW;
    const claims = new SenderClaims({
      records,
      informer: this.senders.informer,
      admission,
      events: recorder,
      waiters: new Waiters(() => undefined),
      now,
    });
    this.reconciler = new AlphaSenderReconciler({
      client: this.senders.client,
      informer: this.senders.informer,
      connections,
      events: recorder,
      admission,
      resyncMs: RESYNC_MS,
      now,
      records,
      claims,
      usage,
      external: () => this.bird,
    });
  }

  tap(configure: (world: this) => unknown): this {
    configure(this);
    return this;
  }

  with(as: AlphaSender): this {
    this.senders.seed(as);
    return this;
  }

  /** An AlphaSender that holds ACME with `active` countries paid for and active (status from an earlier reconcile). */
  holding(as: AlphaSender, active: string[], options: { activeCount?: number } = {}): this {
    this.bird.has(alphaSender("ACME", options.activeCount ?? active.length), active);
    this.records.seed(record({ namespace: "team-a", name: "as", uid: "as-uid" }, active));
    const countries = active.map((countryCode) => ({
      countryCode,
      status: "active",
      blocked: false,
      issues: [],
      subscription: { status: "active", price: PRICE },
    }));
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
    const status: AlphaSenderStatus = {
      boundTo: senderRecordName("ws", ACME.id),
      alphaNumberId: ACME.id,
      countries,
      conditions: ready,
      observedGeneration: 1,
    };
    this.senders.seed({ ...as, metadata: { ...as.metadata, finalizers: [FINALIZER] }, status });
    return this;
  }

  deleting(): this {
    void this.senders.client.delete("team-a", "as");
    this.kube.writes.length = 0;
    return this;
  }

  async reconcile(): Promise<{ error?: unknown }> {
    try {
      await this.reconciler.reconcile("team-a/as", { log: silentLogger(), reconcileId: "r" });
      return {};
    } catch (error) {
      return { error };
    }
  }

  async outcome(): Promise<Outcome> {
    const { error } = await this.reconcile();
    const as = this.senders.get("team-a", "as");
    const condition = (type: string): string | undefined =>
      as?.status?.conditions?.find((c) => c.type === type)?.reason;
    const synced = as?.status?.conditions?.find((c) => c.type === "Synced");
    const held = this.records.all().find((r) => r.spec.claimRef?.uid === "as-uid");
    return {
      bird: this.bird.writes(),
      result: error ? classifyError(error) : synced?.status === "False" ? "waiting" : "ok",
      ready: condition("Ready"),
      synced: condition("Synced"),
      record: held?.status?.phase ?? "none",
      object: !as ? "gone" : as.metadata?.finalizers?.includes(FINALIZER) ? "finalizer" : "no finalizer",
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

const success = { result: "ok", synced: "ReconcileSuccess" } as const;
const registered = (spec: Partial<AlphaSenderSpec>, ws?: BirdWorkspace): World =>
  new World(ws).with(sender(spec)).tap((w) => w.bird.has(ACME));
const held = (
  spec: Partial<AlphaSenderSpec>,
  active: string[],
  options?: { activeCount?: number },
  ws?: BirdWorkspace,
): World => new World(ws).holding(sender(spec), active, options);
const deleting = (spec: Partial<AlphaSenderSpec>, ws?: BirdWorkspace): World =>
  held(spec, ["DE", "FR"], {}, ws).deleting();

const cases: Case[] = [
  // Claim, then activate: there is no create (no API registers a sender).
  {
    reason: "a registered sender nobody holds: claimed, its countries activated in one call",
    world: () => registered({ countries: ["FR", "DE"] }),
    want: { ...success, bird: ["activate ACME DE,FR"], ready: "Available", record: "Bound", object: "finalizer" },
    events: ["Claimed", "DestinationsActivated"],
  },
  {
    reason: "no such sender in the workspace: SenderNotFound, polled, nothing written",
    world: () => new World().with(sender({ countries: ["DE"] })),
    want: { bird: [], result: "waiting", ready: "SenderNotFound", record: "none" },
    events: ["SenderNotFound"],
  },
  {
    reason: "the sender is held by another namespace: SenderConflict, nothing written to Bird",
    world: () =>
      registered({ countries: ["DE"] }).tap((w) =>
        w.records.seed(record({ namespace: "team-b", name: "theirs", uid: "their-uid" })),
      ),
    want: { bird: [], result: "permanent", ready: "SenderConflict", synced: "SenderConflict", record: "none" },
    events: ["ClaimRefused"],
  },
  {
    reason: "a namespace the workspace does not admit: Forbidden, no finalizer",
    world: () => registered({ countries: ["DE"] }, workspace({ allowedNamespaces: { names: ["team-b"] } })),
    want: { bird: [], result: "permanent", ready: "Forbidden", record: "none", object: "no finalizer" },
  },

  // Update: the countries diff, exactly.
  {
    reason: "countries diff: activates the added one, deactivates and cancels the removed one",
    world: () => held({ countries: ["DE", "NL"] }, ["DE", "FR"]),
    want: {
      ...success,
      bird: ["activate ACME NL", "deactivate ACME FR", "cancel ACME FR"],
      ready: "Available",
      record: "Bound",
    },
    events: ["DestinationsActivated", "DestinationsDeactivated", "SubscriptionCancelled"],
  },
  {
    reason: "countries up to date: no Bird write",
    world: () => held({ countries: ["DE", "FR"] }, ["DE", "FR"]),
    want: { ...success, bird: [], ready: "Available" },
  },
  {
    reason: "Bird counts fewer active than ours, confirmed by a fresh read (drift): re-activates them",
    world: () => held({ countries: ["DE", "FR"] }, ["DE", "FR"], { activeCount: 1 }),
    want: { ...success, bird: ["activate ACME DE,FR"] },
  },
  {
    reason: "counts older than our own last write: no drift judged, no Bird write",
    world: () =>
      held({ countries: ["DE", "FR"] }, ["DE", "FR"], { activeCount: 1 }).tap((w) => w.bird.stale.add(ACME.id)),
    want: { ...success, bird: [] },
  },
  {
    reason: "a country the workspace policy does not allow: not activated, PolicyViolation",
    world: () => registered({ countries: ["DE", "FR"] }, workspace({ policy: { allowedCountries: ["DE"] } })),
    want: { ...success, bird: ["activate ACME DE"], ready: "PolicyViolation" },
    events: ["PolicyViolation"],
  },
  {
    reason: "a country above maxMonthlyPricePerCountry: quoted, not activated, PriceAboveLimit",
    world: () =>
      registered({ countries: ["DE"], maxMonthlyPricePerCountry: { currencyCode: "EUR", amount: 50, exponent: 2 } }),
    want: { ...success, bird: ["quote ACME DE"], ready: "PriceAboveLimit" },
    events: ["PriceAboveLimit"],
  },
  {
    reason: "a country Bird can never serve: marked unavailable, the rest activated, CountryUnavailable",
    world: () => registered({ countries: ["DE", "US"] }).tap((w) => (w.bird.unserved = ["US"])),
    want: { ...success, bird: ["activate ACME DE,US", "activate ACME DE"], ready: "CountryUnavailable" },
    events: ["CountryUnavailable"],
  },

  // ObserveOnly never writes to Bird, and never claims.
  {
    reason: "ObserveOnly: reports the sender, claims nothing, no finalizer",
    world: () => registered({ countries: ["DE"], managementPolicy: "ObserveOnly" }),
    want: { ...success, bird: [], record: "none", object: "no finalizer" },
  },
  {
    reason: "ObserveOnly holding a record with a countries diff: nothing activated or cancelled",
    world: () => held({ countries: ["DE", "NL"], managementPolicy: "ObserveOnly" }, ["DE", "FR"]),
    want: { ...success, bird: [], record: "Bound" },
  },
  {
    reason: "ObserveOnly, sender held by another namespace: SenderConflict, nothing reported",
    world: () =>
      registered({ managementPolicy: "ObserveOnly" }).tap((w) =>
        w.records.seed(record({ namespace: "team-b", uid: "their-uid" })),
      ),
    want: { bird: [], result: "waiting", ready: "SenderConflict" },
  },

  // Delete, by the effective policy.
  {
    reason: "deleted, policy Delete: deactivates and cancels every country, record and finalizer go",
    world: () => deleting({ countries: ["DE", "FR"], deletionPolicy: "Delete" }),
    want: {
      result: "ok",
      bird: ["deactivate ACME DE,FR", "cancel ACME DE", "cancel ACME FR"],
      record: "none",
      object: "gone",
    },
  },
  {
    reason: "deleted, policy Retain: record Released, Bird untouched",
    world: () => deleting({ countries: ["DE", "FR"], deletionPolicy: "Retain" }),
    want: { result: "ok", bird: [], record: "Released", object: "gone" },
    events: ["Retained"],
  },
  {
    reason: "deleted, no policy anywhere: Retain",
    world: () => deleting({ countries: ["DE", "FR"] }),
    want: { bird: [], record: "Released", object: "gone" },
  },
  {
    reason: "deleted, workspace default Delete: deactivates and cancels",
    world: () => deleting({ countries: ["DE", "FR"] }, workspace({ defaultDeletionPolicy: "Delete" })),
    want: { bird: ["deactivate ACME DE,FR", "cancel ACME DE", "cancel ACME FR"], record: "none", object: "gone" },
  },
  {
    reason: "deleted, policy Delete, namespace no longer admitted: Released, Bird untouched",
    world: () =>
      deleting(
        { countries: ["DE", "FR"], deletionPolicy: "Delete" },
        workspace({ allowedNamespaces: { names: ["team-b"] } }),
      ),
    want: { bird: [], record: "Released", object: "gone" },
  },
  {
    reason: "deleted, policy Delete, namespace no longer admitted, workspace not Ready: Released, Bird untouched",
    world: () =>
      deleting(
        { countries: ["DE", "FR"], deletionPolicy: "Delete" },
        {
          ...workspace({ allowedNamespaces: { names: ["team-b"] } }),
          status: {
            conditions: [
              {
                type: "Ready",
                status: "False",
                reason: "Unauthorized",
                message: "",
                lastTransitionTime: "2026-01-01T00:00:00Z",
              },
            ],
          },
        },
      ),
    want: { bird: [], record: "Released", object: "gone" },
  },
  {
    reason: "deleted, policy Delete, the sender gone from Bird: record and finalizer go, nothing to cancel",
    world: () => deleting({ countries: ["DE", "FR"], deletionPolicy: "Delete" }).tap((w) => w.bird.senders.clear()),
    want: { bird: [], record: "none", object: "gone" },
  },
];

const errorCases: Case[] = [
  {
    reason: "activate answered 5xx: Synced False, Ready stays True, retried",
    world: () => held({ countries: ["DE", "NL"] }, ["DE"]).tap((w) => w.bird.fail("activate", birdError(503))),
    want: {
      bird: ["activate ACME NL"],
      result: "transient",
      ready: "Available",
      synced: "ReconcileError",
      record: "Bound",
    },
  },
  {
    reason: "activate answered 429: Synced False, retried",
    world: () => held({ countries: ["DE", "NL"] }, ["DE"]).tap((w) => w.bird.fail("activate", birdError(429))),
    want: { bird: ["activate ACME NL"], result: "transient", synced: "ReconcileError" },
  },
  {
    reason: "activate timed out: Synced False, retried",
    world: () => held({ countries: ["DE", "NL"] }, ["DE"]).tap((w) => w.bird.fail("activate", birdError(0))),
    want: { bird: ["activate ACME NL"], result: "transient", synced: "ReconcileError" },
  },
  {
    reason: "activate answered 400 (naming no country): Synced False, permanent",
    world: () => held({ countries: ["DE", "NL"] }, ["DE"]).tap((w) => w.bird.fail("activate", birdError(400))),
    want: { bird: ["activate ACME NL"], result: "permanent", synced: "ReconcileError" },
  },
  {
    reason: "listing subscriptions answered 5xx: nothing written, retried",
    world: () => held({ countries: ["DE", "NL"] }, ["DE"]).tap((w) => w.bird.fail("subscriptions", birdError(503))),
    want: { bird: [], result: "transient", ready: "Available", synced: "ReconcileError" },
  },
  {
    reason: "cancel answered 5xx while deleting: the record and the finalizer stay",
    world: () =>
      deleting({ countries: ["DE", "FR"], deletionPolicy: "Delete" }).tap((w) => w.bird.fail("cancel", birdError(503))),
    want: {
      bird: ["deactivate ACME DE,FR", "cancel ACME DE"],
      result: "transient",
      ready: "Deleting",
      record: "Bound",
      object: "finalizer",
    },
  },
  {
    reason: "deactivate timed out while deleting: the record and the finalizer stay",
    world: () =>
      deleting({ countries: ["DE", "FR"], deletionPolicy: "Delete" }).tap((w) =>
        w.bird.fail("deactivate", birdError(0)),
      ),
    want: { bird: ["deactivate ACME DE,FR"], result: "transient", record: "Bound", object: "finalizer" },
  },
];

describe("AlphaSenderReconciler, against a call-recording Bird", () => {
  it.each([...cases, ...errorCases])("$reason", async ({ world, want, events }) => {
    const w = world();
    expect(await w.outcome()).toMatchObject(want);
    if (events) expect(w.events.map((e) => e.reason)).toEqual(expect.arrayContaining(events));
  });
});

describe("AlphaSenderReconciler: a Bird write on a held sender leaves only if the record still binds it", () => {
  it("a deactivation that waited while the record was taken over is not sent; the retry holds nothing", async () => {
    const world = deleting({ countries: ["DE", "FR"], deletionPolicy: "Delete" }).tap((w) => {
      w.bird.beforeSend = () => {
        const [held] = w.records.all();
        if (held)
          w.records.seed({ ...held, spec: { ...held.spec, claimRef: { namespace: "team-b", name: "b", uid: "b" } } });
      };
    });
    expect(await world.outcome()).toMatchObject({ bird: [], result: "transient", object: "finalizer" });
    world.bird.beforeSend = undefined;
    expect(await world.outcome()).toMatchObject({ bird: [], result: "ok", object: "gone" });
  });
});

describe("AlphaSenderReconciler: a second reconcile in a row writes nothing, to Bird or Kubernetes", () => {
  it.each([
    { reason: "after a claim and activation", world: () => registered({ countries: ["DE", "FR"] }) },
    { reason: "after a countries diff", world: () => held({ countries: ["DE", "NL"] }, ["DE", "FR"]) },
    { reason: "ObserveOnly", world: () => registered({ countries: ["DE"], managementPolicy: "ObserveOnly" }) },
  ])("$reason", async ({ world }) => {
    const w = world();
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

describe("AlphaSenderReconciler: when the API server is asked which record an object holds", () => {
  it("not for a new object (no finalizer yet: it never claimed); again once it carries the finalizer", async () => {
    const w = registered({ countries: ["DE"] });
    const lists = vi.spyOn(w.records.client, "list");
    expect(await w.outcome()).toMatchObject({ result: "ok", record: "Bound", object: "finalizer" });
    expect(lists).not.toHaveBeenCalled();
    w.records.all().forEach((r) => void w.records.client.delete(undefined, r.metadata?.name ?? ""));
    await w.reconcile();
    expect(lists).toHaveBeenCalledWith({ labelSelector: "numbers.birdoperator.dev/claim-uid=as-uid" });
  });

  it("for an object the operator reported on, its finalizer removed (a tenant can; its status it cannot)", async () => {
    const w = new World()
      .with({ ...sender({ countries: ["DE"] }), status: { observedGeneration: 1 } })
      .tap((world) => world.bird.has(ACME));
    const lists = vi.spyOn(w.records.client, "list");
    await w.reconcile();
    expect(lists).toHaveBeenCalledWith({ labelSelector: "numbers.birdoperator.dev/claim-uid=as-uid" });
  });
});

describe("AlphaSenderReconciler: what a spend limit counts", () => {
  const recordName = senderRecordName("ws", ACME.id);
  /** DE and FR wanted under a spend limit, Bird set up by `bird`; reconciled once, which quotes and activates both. */
  const limited = async (bird: (fake: FakeSenders) => void): Promise<World> => {
    const limit = { currencyCode: PRICE.currencyCode, amount: 1_000_000, exponent: 0 };
    const w = registered({ countries: ["DE", "FR"] }, workspace({ policy: { maxMonthlySpend: limit } }));
    bird(w.bird);
    expect(await w.reconcile()).toEqual({});
    expect(w.bird.writes()).toEqual(["quote ACME DE,FR", "activate ACME DE,FR"]);
    return w;
  };
  const spent = (w: World): unknown => w.usage.of({ workspace: w.bird.workspace, inventory: w.bird.inventory }).prices;

  it("counts an activated country until its record lists it; one Bird did not charge for, not at all", async () => {
    const w = await limited((bird) => (bird.uncharged = ["FR"]));
    expect(w.records.get(undefined, recordName)?.status?.countries?.map((c) => c.countryCode)).toEqual(["DE"]);
    // FR is not paid for: nothing will ever list it, so it no longer counts; DE counts (once) through its record.
    expect(w.usage.reserved("ws", countryKey(recordName, "FR"))).toBe(false);
    expect(w.usage.reserved("ws", countryKey(recordName, "DE"))).toBe(false);
    expect(spent(w)).toEqual([PRICE]);
  });

  it("keeps counting a country Bird made active without billing it yet, until its record lists it", async () => {
    const w = await limited((bird) => (bird.billedLater = ["FR"]));
    expect(w.usage.reserved("ws", countryKey(recordName, "FR"))).toBe(true);
    expect(spent(w)).toEqual([PRICE, PRICE]);
  });
});

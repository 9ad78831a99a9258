import { ApiException } from "@kubernetes/client-node/dist/gen/apis/exception.js";
import { describe, expect, it } from "vitest";
import type { PhoneNumber, PhoneNumberStatus } from "../../src/api/v1alpha1/index.js";
import { FINALIZER } from "../../src/api/v1alpha1/conditions.js";
import { reconcileManaged, type CleanupOutcome, type StepOutcome } from "../../src/runtime/managed.js";
import { silentLogger } from "../../src/log.js";
import { PermanentError, TransientError, Waiting } from "../../src/runtime/errors.js";
import type { EventRecorder } from "../../src/runtime/events.js";
import type { Informer } from "../../src/runtime/informer.js";
import type { JsonPatchOp, ResourceClient } from "../../src/runtime/resource-client.js";

/** Every write the step makes, in order: what the API server would see. */
interface Call {
  verb: "patch" | "patch-status";
  body: unknown;
}

interface Harness {
  calls: Call[];
  events: { type: string; reason: string; message: string }[];
  run: (steps: {
    apply?: (status: PhoneNumberStatus) => Promise<StepOutcome<PhoneNumber>>;
    cleanup?: () => Promise<CleanupOutcome<PhoneNumber>>;
  }) => Promise<unknown>;
  finalizerRemoved: () => boolean;
  lastStatus: () => PhoneNumberStatus | undefined;
}

function harness(
  object: PhoneNumber,
  options: { statusWrite?: (body: unknown) => Error | undefined; current?: () => Promise<PhoneNumber> } = {},
): Harness {
  const calls: Call[] = [];
  const events: { type: string; reason: string; message: string }[] = [];
  const client = {
    patch: (_ns: string | undefined, _name: string, body: unknown) => {
      calls.push({ verb: "patch", body });
      return Promise.resolve(object);
    },
    // Recorded as the status the JSON Patch leaves (its uid test passes: the object was not replaced).
    patchStatusOps: (_ns: string | undefined, _name: string, ops: JsonPatchOp[]) => {
      let body: Record<string, unknown> = structuredClone((object.status ?? {}) as Record<string, unknown>);
      for (const op of ops) {
        if (op.path === "/status") body = structuredClone(op.value) as Record<string, unknown>;
        else if (op.path.startsWith("/status/")) body[op.path.slice("/status/".length)] = op.value;
      }
      calls.push({ verb: "patch-status", body });
      const refusal = options.statusWrite?.(body);
      return refusal ? Promise.reject(refusal) : Promise.resolve(object);
    },
    get: () => (options.current ? options.current() : Promise.resolve(object)),
  } as unknown as ResourceClient<PhoneNumber>;
  const recorder = {
    record: (_o: unknown, type: string, reason: string, message: string) => events.push({ type, reason, message }),
  } as unknown as EventRecorder;
  const informer = { get: () => object } as unknown as Informer<PhoneNumber>;
  const deps = { client, events: recorder, informer, log: silentLogger(), now: () => new Date("2026-11-30T00:00:00Z") };
  const run: Harness["run"] = (steps) =>
    reconcileManaged<PhoneNumber, PhoneNumberStatus>(deps, "ns/pn", {
      apply: (_object, status) => (steps.apply ? steps.apply(status) : Promise.reject(new Error("apply not expected"))),
      cleanup: steps.cleanup ?? (() => Promise.reject(new Error("cleanup not expected"))),
    });
  const finalizerRemoved = (): boolean =>
    calls.some((c) => c.verb === "patch" && JSON.stringify(c.body).includes('"replace"'));
  const lastStatus = (): PhoneNumberStatus | undefined =>
    (calls.filter((c) => c.verb === "patch-status").at(-1)?.body as PhoneNumberStatus | undefined) ?? undefined;
  return { calls, events, run, finalizerRemoved, lastStatus };
}

function phoneNumber(options: { deleting?: boolean; ready?: boolean; uid?: string } = {}): PhoneNumber {
  return {
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "PhoneNumber",
    metadata: {
      name: "pn",
      namespace: "ns",
      uid: options.uid ?? "u1",
      generation: 2,
      finalizers: [FINALIZER],
      ...(options.deleting ? { deletionTimestamp: new Date() } : {}),
    },
    spec: { workspaceRef: { name: "ws" }, countryCode: "US", type: "local" },
    status: options.ready
      ? {
          observedGeneration: 2,
          conditions: [
            {
              type: "Ready",
              status: "True",
              reason: "Available",
              message: "ok",
              lastTransitionTime: "2026-11-29T00:00:00Z",
              observedGeneration: 2,
            },
          ],
        }
      : undefined,
  };
}

const deleting = { ready: { type: "Ready", status: "False" as const, reason: "Deleting", message: "x" } };

describe("reconcileManaged: the finalizer goes only when cleanup says done", () => {
  it.each([
    { reason: "cleanup returned done", cleanup: () => Promise.resolve({ ...deleting, done: true }), removed: true },
    {
      reason: "cleanup returned not done",
      cleanup: () => Promise.resolve({ ...deleting, done: false }),
      removed: false,
    },
    {
      reason: "cleanup waits (a Waiting is not done)",
      cleanup: () => Promise.reject(new Waiting("waiting for Bird", "PurchasePending", 1000)),
      removed: false,
    },
    {
      reason: "cleanup failed transiently",
      cleanup: () => Promise.reject(new TransientError("Bird down", "BirdUnreachable")),
      removed: false,
    },
    {
      reason: "cleanup failed permanently",
      cleanup: () => Promise.reject(new PermanentError("no", "ReconcileError")),
      removed: false,
    },
  ])("$reason: finalizer removed = $removed", async ({ cleanup, removed }) => {
    const h = harness(phoneNumber({ deleting: true }));
    await h.run({ cleanup }).catch(() => undefined);
    expect(h.finalizerRemoved()).toBe(removed);
  });
});

describe("runStep: what a failure writes", () => {
  it(
    "a failing deletion shows Ready=False Deleting, " + "even when the resource was Ready (no stale Available)",
    async () => {
      const h = harness({ ...phoneNumber({ deleting: true, ready: true }) });
      await h
        .run({ cleanup: () => Promise.reject(new TransientError("cannot cancel: Bird down", "BirdUnreachable")) })
        .catch(() => undefined);
      const ready = h.lastStatus()?.conditions?.find((c) => c.type === "Ready");
      expect(ready).toMatchObject({ status: "False", reason: "Deleting" });
      expect(ready?.message).toContain("cannot cancel");
    },
  );

  it("a transient failure of a working resource keeps Ready=True and sets Synced=False with a Warning", async () => {
    const h = harness(phoneNumber({ ready: true }));
    await expect(
      h.run({ apply: () => Promise.reject(new TransientError("Bird down", "BirdUnreachable")) }),
    ).rejects.toThrow("Bird down");
    expect(h.lastStatus()?.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ["Ready", "True", "Available"],
      ["Synced", "False", "BirdUnreachable"],
    ]);
    expect(h.events.map((e) => e.type)).toEqual(["Warning"]);
  });

  it("a write conflict is quiet: no status write, no event, rethrown for a quick requeue", async () => {
    const h = harness(phoneNumber({ ready: true }));
    const conflict = new ApiException(409, "Conflict", "the object has been modified", {});
    await expect(h.run({ apply: () => Promise.reject(conflict) })).rejects.toBe(conflict);
    expect(h.calls).toEqual([]);
    expect(h.events).toEqual([]);
  });

  it("a Waiting is reported and polled, without an event", async () => {
    const h = harness(phoneNumber());
    const result = await h.run({ apply: () => Promise.reject(new Waiting("no stock", "NumberUnavailable", 1234)) });
    expect(result).toEqual({ requeueAfterMs: 1234 });
    expect(h.lastStatus()?.conditions?.find((c) => c.type === "Ready")).toMatchObject({
      status: "False",
      reason: "NumberUnavailable",
    });
    expect(h.events).toEqual([]);
  });

  it("a status the API server refuses (422) is replaced by the conditions alone, Synced=False saying why", async () => {
    const refused = new ApiException(422, "Invalid", "status.issues[0]: Too long: may not be longer than 256", {});
    const h = harness(phoneNumber({ ready: true }), {
      statusWrite: (body) => ((body as PhoneNumberStatus).issues ? refused : undefined),
    });
    await h.run({
      apply: (status) => {
        status.issues = ["x".repeat(300)];
        return Promise.resolve({ ready: { type: "Ready", status: "True", reason: "Available", message: "ok" } });
      },
    });
    // The write, the same write against the object as read again (the uid still the same), then the conditions alone.
    const writes = h.calls.filter((c) => c.verb === "patch-status").map((c) => c.body as Record<string, unknown>);
    expect(writes).toHaveLength(3);
    expect(writes[2]?.issues ?? null).toBeNull();
    const conditions = (writes[2] as PhoneNumberStatus).conditions?.map((c) => [c.type, c.status, c.reason]);
    expect(conditions).toEqual([
      ["Ready", "False", "StatusRejected"],
      ["Synced", "False", "StatusRejected"],
    ]);
    expect(h.events.map((e) => e.type)).toEqual(["Warning"]);
  });

  it.each([
    { what: "re-created under its name (another uid)", current: () => Promise.resolve(phoneNumber({ uid: "u2" })) },
    { what: "deleted", current: () => Promise.reject(new ApiException(404, "NotFound", "not found", {})) },
  ])("a status decided for an object since $what is written nowhere, and nothing else happens", async ({ current }) => {
    const failedTest = new ApiException(422, "Invalid", "the server rejected our request: test operation failed", {});
    const h = harness(phoneNumber({ ready: true }), { statusWrite: () => failedTest, current });
    await h.run({
      apply: () => Promise.resolve({ ready: { type: "Ready", status: "True", reason: "Available", message: "new" } }),
    });
    expect(h.calls.filter((c) => c.verb === "patch-status")).toHaveLength(1);
    expect(h.events).toEqual([]);
  });
});

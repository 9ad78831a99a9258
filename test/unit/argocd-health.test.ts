import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { Reason } from "../../src/api/v1alpha1/conditions.js";
import { generateArgoCdHealthConfigMap, HEALTH_CONFIGMAP_FILE, HEALTH_KINDS, HEALTH_LUA_FILE, healthKey } from "../../scripts/generate-argocd-health.js";

/** The part of fengari (a Lua 5.3 VM in JavaScript; it ships no types) these tests use. */
type LuaState = unknown;
interface Fengari {
  to_luastring: (text: string) => Uint8Array;
  lua: {
    LUA_OK: number;
    LUA_TTABLE: number;
    lua_pushnumber: (L: LuaState, n: number) => void;
    lua_pushinteger: (L: LuaState, n: number) => void;
    lua_pushstring: (L: LuaState, s: Uint8Array) => void;
    lua_pushboolean: (L: LuaState, b: boolean) => void;
    lua_pushnil: (L: LuaState) => void;
    lua_createtable: (L: LuaState, narr: number, nrec: number) => void;
    lua_setfield: (L: LuaState, index: number, key: Uint8Array) => void;
    lua_rawseti: (L: LuaState, index: number, n: number) => void;
    lua_setglobal: (L: LuaState, name: Uint8Array) => void;
    lua_getfield: (L: LuaState, index: number, key: Uint8Array) => number;
    lua_pcall: (L: LuaState, nargs: number, nresults: number, msgh: number) => number;
    lua_type: (L: LuaState, index: number) => number;
    lua_tojsstring: (L: LuaState, index: number) => string | null;
    lua_pop: (L: LuaState, n: number) => void;
  };
  lauxlib: {
    luaL_newstate: () => LuaState;
    luaL_loadstring: (L: LuaState, s: Uint8Array) => number;
    luaL_requiref: (L: LuaState, name: Uint8Array, open: unknown, global: number) => void;
  };
  lualib: { luaopen_base: unknown; luaopen_table: unknown };
}
const fengari = createRequire(import.meta.url)("fengari") as Fengari;
const { lua, lauxlib, lualib, to_luastring } = fengari;

interface Health {
  status: string;
  message: string;
}

/**
 * Pushes a JSON value the way Argo CD's decodeValue does: objects and arrays become tables (arrays 1-based), null
 * nil. gopher-lua has one number type and prints 2.0 as "2"; Lua 5.3 prints a float 2.0 as "2.0", so whole numbers
 * go in as integers to print the same (they compare equal to floats either way).
 */
function pushJson(L: LuaState, value: unknown): void {
  if (value === null || value === undefined) lua.lua_pushnil(L);
  else if (typeof value === "boolean") lua.lua_pushboolean(L, value);
  else if (typeof value === "number") (Number.isSafeInteger(value) ? lua.lua_pushinteger : lua.lua_pushnumber)(L, value);
  else if (typeof value === "string") lua.lua_pushstring(L, to_luastring(value));
  else if (Array.isArray(value)) {
    lua.lua_createtable(L, value.length, 0);
    value.forEach((item, i) => {
      pushJson(L, item);
      lua.lua_rawseti(L, -2, i + 1);
    });
  } else {
    const entries = Object.entries(value as Record<string, unknown>);
    lua.lua_createtable(L, 0, entries.length);
    for (const [key, item] of entries) {
      pushJson(L, item);
      lua.lua_setfield(L, -2, to_luastring(key));
    }
  }
}

/**
 * Runs a health script as Argo CD does for a custom script: only the base and table libraries (Argo CD also opens
 * package and a reduced os, which these scripts do not use), the resource as the global `obj`, the chunk's return
 * value read as `{status, message}`.
 */
function runHealth(script: string, object: unknown): Health {
  const L = lauxlib.luaL_newstate();
  lauxlib.luaL_requiref(L, to_luastring("_G"), lualib.luaopen_base, 1);
  lauxlib.luaL_requiref(L, to_luastring("table"), lualib.luaopen_table, 1);
  lua.lua_pop(L, 2);
  pushJson(L, object);
  lua.lua_setglobal(L, to_luastring("obj"));
  if (lauxlib.luaL_loadstring(L, to_luastring(script)) !== lua.LUA_OK || lua.lua_pcall(L, 0, 1, 0) !== lua.LUA_OK) {
    throw new Error(`health script failed: ${lua.lua_tojsstring(L, -1) ?? "unknown error"}`);
  }
  if (lua.lua_type(L, -1) !== lua.LUA_TTABLE) throw new Error("health script did not return a table");
  const field = (name: string): string => {
    lua.lua_getfield(L, -1, to_luastring(name));
    const text = lua.lua_tojsstring(L, -1) ?? "";
    lua.lua_pop(L, 1);
    return text;
  };
  return { status: field("status"), message: field("message") };
}

/** The ConfigMap that ships, read the way Argo CD reads argocd-cm. */
const configMap = parse(readFileSync(HEALTH_CONFIGMAP_FILE, "utf8")) as { metadata: { name: string; namespace: string }; data: Record<string, string> };
const shippedScripts = HEALTH_KINDS.map((kind) => ({ kind, script: configMap.data[healthKey(kind)] ?? "" }));

interface ConditionInput {
  type: "Ready" | "Synced";
  status: "True" | "False";
  reason: string;
  message?: string;
  observedGeneration?: number;
}

function resource(kind: string, options: { generation?: number; deleting?: boolean; status?: Record<string, unknown> | null }): Record<string, unknown> {
  return {
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind,
    metadata: {
      name: "example",
      ...(kind === "BirdWorkspace" ? {} : { namespace: "team-a" }),
      generation: options.generation ?? 2,
      ...(options.deleting ? { deletionTimestamp: "2025-01-01T00:00:00Z", finalizers: ["numbers.birdoperator.dev/finalizer"] } : {}),
    },
    spec: {},
    ...(options.status === null ? {} : { status: options.status }),
  };
}

function conditions(generation: number, ...list: ConditionInput[]): Record<string, unknown> {
  return {
    observedGeneration: generation,
    conditions: list.map((c) => ({ lastTransitionTime: "2025-01-01T00:00:00Z", message: "", observedGeneration: generation, ...c })),
  };
}

const ready = (reason = "Available", message = "+31612345678 is provisioned"): ConditionInput => ({ type: "Ready", status: "True", reason, message });
const notReady = (reason: string, message = `${reason} happened`): ConditionInput => ({ type: "Ready", status: "False", reason, message });
const synced = (): ConditionInput => ({ type: "Synced", status: "True", reason: "ReconcileSuccess" });
const notSynced = (reason: string, message = `${reason} happened`): ConditionInput => ({ type: "Synced", status: "False", reason, message });

interface Case {
  reason: string;
  status?: Record<string, unknown> | null;
  generation?: number;
  deleting?: boolean;
  want: Health | { status: string; message: RegExp };
}

/** Every shape of status the operator writes, and one or two it must never be confused by. */
const cases: Case[] = [
  { reason: "a new resource has no status yet", status: null, want: { status: "Progressing", message: "Waiting for the operator to report status" } },
  { reason: "a status without conditions is not a verdict", status: { observedGeneration: 2 }, want: { status: "Progressing", message: "Waiting for the operator to report status" } },
  { reason: "an empty condition list is not a verdict", status: { observedGeneration: 2, conditions: [] }, want: { status: "Progressing", message: "Waiting for the operator to report status" } },
  {
    reason: "a deleting resource is Progressing even while Ready: the finalizer is still releasing the number",
    deleting: true,
    status: conditions(2, ready(), synced()),
    want: { status: "Progressing", message: /^Deleting/ },
  },
  {
    reason: "a deleting resource whose cleanup fails is still Progressing: the operator retries and keeps the finalizer",
    deleting: true,
    status: conditions(2, notReady("Deleting", "deleting"), notSynced("ReconcileError", "Bird answered 503")),
    want: { status: "Progressing", message: /^Deleting/ },
  },
  { reason: "Ready for the current generation is Healthy", status: conditions(2, ready(), synced()), want: { status: "Healthy", message: "+31612345678 is provisioned" } },
  {
    reason: "status written for an older generation: the new spec is not reconciled yet",
    generation: 3,
    status: conditions(2, ready(), synced()),
    want: { status: "Progressing", message: "Waiting for the operator to reconcile generation 3" },
  },
  {
    reason: "a permanent failure of an older generation does not hide that the new spec is being reconciled",
    generation: 3,
    status: conditions(2, notReady("PolicyViolation"), notSynced("PolicyViolation")),
    want: { status: "Progressing", message: "Waiting for the operator to reconcile generation 3" },
  },
  {
    reason: "Ready True but written for an older generation is not Healthy",
    status: { observedGeneration: 2, conditions: [{ ...ready(), observedGeneration: 1 }, { ...synced(), observedGeneration: 2 }] },
    want: { status: "Progressing", message: "Waiting for the Ready condition of generation 2" },
  },
  {
    reason: "a permanent reason on a condition of an older generation is not Degraded",
    status: { observedGeneration: 2, conditions: [{ ...notReady("PolicyViolation"), observedGeneration: 1 }] },
    want: { status: "Progressing", message: "Waiting for the Ready condition of generation 2" },
  },
  { reason: "no Ready condition yet", status: conditions(2, synced()), want: { status: "Progressing", message: "Waiting for the Ready condition of generation 2" } },
  {
    reason: "a transient failure keeps a working number Healthy, and says so",
    status: conditions(2, ready(), notSynced("BirdUnreachable", "cannot reach Bird")),
    want: { status: "Healthy", message: "+31612345678 is provisioned (last sync failed, retrying: BirdUnreachable: cannot reach Bird)" },
  },
  {
    reason: "a permanent Synced failure is Degraded even while Ready is True",
    status: conditions(2, ready(), notSynced("PolicyViolation", "country XX is not in spec.policy.allowedCountries")),
    want: { status: "Degraded", message: "PolicyViolation: country XX is not in spec.policy.allowedCountries" },
  },
  {
    reason: "Ready False alone with a permanent reason is Degraded",
    status: conditions(2, notReady("PriceAboveLimit", "no number in stock within the price limit")),
    want: { status: "Degraded", message: "PriceAboveLimit: no number in stock within the price limit" },
  },
  {
    reason: "Synced is reported first when both are False",
    status: conditions(2, notReady("SecretNotFound", "ready says"), notSynced("SecretNotFound", "synced says")),
    want: { status: "Degraded", message: "SecretNotFound: synced says" },
  },
  { reason: "a reason without a message is shown alone", status: conditions(2, notReady("Provisioning", "")), want: { status: "Progressing", message: "Provisioning" } },
  {
    reason: "a reason the script does not know waits rather than alarms",
    status: conditions(2, notReady("SomethingNew", "new in a later operator")),
    want: { status: "Progressing", message: "SomethingNew: new in a later operator" },
  },
];

/**
 * The verdict for Ready=False (and Synced=False) with each reason the operator writes. Keyed by every Reason, so a
 * reason added to src/api/v1alpha1/conditions.ts fails here until someone decides how Argo CD shows it.
 */
const verdicts: Record<string, "Degraded" | "Progressing" | "never False"> = {
  // Permanent: the operator stops retrying until the spec or the credentials change.
  PolicyViolation: "Degraded",
  PriceAboveLimit: "Degraded",
  Forbidden: "Degraded",
  NumberLost: "Degraded",
  CannotPurchase: "Degraded",
  SenderConflict: "Degraded",
  NumberConflict: "Degraded",
  Unauthorized: "Degraded",
  PermissionDenied: "Degraded",
  SecretNotFound: "Degraded",
  KeyNotFound: "Degraded",
  DestinationUnavailable: "Degraded",
  // Polled, but nothing changes until a person acts.
  NumberUnavailable: "Degraded",
  QuotaExceeded: "Degraded",
  WorkspaceNotFound: "Degraded",
  BirdIssues: "Degraded",
  SubscriptionInactive: "Degraded",
  SenderNotFound: "Degraded",
  CountryBlocked: "Degraded",
  CountryUnavailable: "Degraded",
  StatusRejected: "Degraded",
  UnknownProvisioningStatus: "Degraded",
  DuplicateWorkspace: "Degraded",
  InUse: "Degraded",
  // The operator gets there by itself.
  Creating: "Progressing",
  Provisioning: "Progressing",
  PurchasePending: "Progressing",
  DestinationsPending: "Progressing",
  Deleting: "Progressing",
  WorkspaceNotReady: "Progressing",
  BirdUnreachable: "Progressing",
  ReconcileError: "Progressing",
  // Reasons of True conditions.
  Available: "never False",
  ReconcileSuccess: "never False",
  ObserveOnly: "never False",
};

describe("Argo CD health scripts (deploy/argocd)", () => {
  it("argocd-cm-health.yaml is generated from health.lua and up to date (npm run generate:argocd-health)", () => {
    expect(readFileSync(HEALTH_CONFIGMAP_FILE, "utf8")).toBe(generateArgoCdHealthConfigMap());
    expect(configMap.metadata).toEqual({ name: "argocd-cm", namespace: "argocd" });
    expect(Object.keys(configMap.data).sort()).toEqual(HEALTH_KINDS.map(healthKey).sort());
    for (const { script } of shippedScripts) expect(script).toBe(readFileSync(HEALTH_LUA_FILE, "utf8"));
  });

  it("classifies every condition reason the operator writes", () => {
    const unclassified = Object.values(Reason).filter((reason) => !(reason in verdicts));
    expect(unclassified, "decide each one's Argo CD health: DEGRADED in deploy/argocd/health.lua (then npm run generate:argocd-health), the README table, and `verdicts` here").toEqual([]);
  });

  for (const { kind, script } of shippedScripts) {
    describe(kind, () => {
      it.each(cases)("$reason", ({ status, generation, deleting, want }) => {
        const got = runHealth(script, resource(kind, { status, generation, deleting }));
        expect(got.status).toBe(want.status);
        if (want.message instanceof RegExp) expect(got.message).toMatch(want.message);
        else expect(got.message).toBe(want.message);
      });

      const falseReasons = Object.entries(verdicts).filter(([, verdict]) => verdict !== "never False") as [string, "Degraded" | "Progressing"][];
      it.each(falseReasons)("Ready and Synced False with reason %s is %s", (reason, verdict) => {
        const got = runHealth(script, resource(kind, { status: conditions(2, notReady(reason, "why"), notSynced(reason, "why")) }));
        expect(got).toEqual({ status: verdict, message: `${reason}: why` });
      });

      it.each(falseReasons)("Ready False alone with reason %s is %s", (reason, verdict) => {
        const got = runHealth(script, resource(kind, { status: conditions(2, notReady(reason, "why"), synced()) }));
        expect(got).toEqual({ status: verdict, message: `${reason}: why` });
      });
    });
  }
});

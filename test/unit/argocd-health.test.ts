import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { Reason } from "../../src/api/v1alpha1/conditions.js";
import {
  cases,
  conditions,
  falseReasons,
  notReady,
  notSynced,
  resource,
  synced,
  verdicts,
  type Health,
} from "./argocd-health-cases.js";
import {
  generateArgoCdHealthConfigMap,
  HEALTH_CONFIGMAP_FILE,
  HEALTH_KINDS,
  HEALTH_LUA_FILE,
  healthKey,
} from "../../scripts/generate-argocd-health.js";

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

/**
 * Pushes a JSON value the way Argo CD's decodeValue does: objects and arrays become tables (arrays 1-based), null
 * nil. gopher-lua has one number type and prints 2.0 as "2"; Lua 5.3 prints a float 2.0 as "2.0", so whole numbers
 * go in as integers to print the same (they compare equal to floats either way).
 */
function pushJson(L: LuaState, value: unknown): void {
  if (value === null || value === undefined) lua.lua_pushnil(L);
  else if (typeof value === "boolean") lua.lua_pushboolean(L, value);
  else if (typeof value === "number")
    (Number.isSafeInteger(value) ? lua.lua_pushinteger : lua.lua_pushnumber)(L, value);
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
const configMap = parse(readFileSync(HEALTH_CONFIGMAP_FILE, "utf8")) as {
  metadata: { name: string; namespace: string };
  data: Record<string, string>;
};
const shippedScripts = HEALTH_KINDS.map((kind) => ({ kind, script: configMap.data[healthKey(kind)] ?? "" }));

describe("Argo CD health scripts (deploy/argocd)", () => {
  it("argocd-cm-health.yaml is generated from health.lua and up to date (npm run generate:argocd-health)", () => {
    expect(readFileSync(HEALTH_CONFIGMAP_FILE, "utf8")).toBe(generateArgoCdHealthConfigMap());
    expect(configMap.metadata).toEqual({ name: "argocd-cm", namespace: "argocd" });
    expect(Object.keys(configMap.data).sort()).toEqual(HEALTH_KINDS.map(healthKey).sort());
    for (const { script } of shippedScripts) expect(script).toBe(readFileSync(HEALTH_LUA_FILE, "utf8"));
  });

  it("classifies every condition reason the operator writes", () => {
    const unclassified = Object.values(Reason).filter((reason) => !(reason in verdicts));
    expect(
      unclassified,
      "decide each one's Argo CD health: DEGRADED in deploy/argocd/health.lua " +
        "(then npm run generate:argocd-health), the README table, and `verdicts` here",
    ).toEqual([]);
  });

  for (const { kind, script } of shippedScripts) {
    describe(kind, () => {
      it.each(cases)("$reason", ({ status, generation, deleting, want }) => {
        const got = runHealth(script, resource(kind, { status, generation, deleting }));
        expect(got.status).toBe(want.status);
        if (want.message instanceof RegExp) expect(got.message).toMatch(want.message);
        else expect(got.message).toBe(want.message);
      });

      it.each(falseReasons)("Ready and Synced False with reason %s is %s", (reason, verdict) => {
        const got = runHealth(
          script,
          resource(kind, { status: conditions(2, notReady(reason, "why"), notSynced(reason, "why")) }),
        );
        expect(got).toEqual({ status: verdict, message: `${reason}: why` });
      });

      it.each(falseReasons)("Ready False alone with reason %s is %s", (reason, verdict) => {
        const got = runHealth(script, resource(kind, { status: conditions(2, notReady(reason, "why"), synced()) }));
        expect(got).toEqual({ status: verdict, message: `${reason}: why` });
      });
    });
  }
});

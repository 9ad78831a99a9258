import { describe, expect, it } from "vitest";
import type { PhoneNumber, PhoneNumberStatus } from "../../src/api/v1alpha1/index.js";
import { silentLogger } from "../../src/log.js";
import type { EventRecorder } from "../../src/runtime/events.js";
import { KubeHttp } from "../../src/runtime/kube-http.js";
import { writeStatus } from "../../src/runtime/managed.js";
import { ResourceClient } from "../../src/runtime/resource-client.js";
import { PHONE_NUMBER_RESOURCE, phoneNumberNamespace, testCluster } from "../helpers/cluster.js";

const KIND = PHONE_NUMBER_RESOURCE;

/**
 * The operator's status write against the API server: a JSON Patch that tests the uid, then the top-level fields that
 * changed. A tenant may delete and re-create its object under the same name while a reconcile of the old one is in
 * flight: the old one's status (Ready, the number it held) must not land on the new one.
 */
describe("status writes against the API server: only on the object they were decided for", () => {
  const cluster = testCluster();
  const http = new KubeHttp(cluster.kubeConfig);
  const client = new ResourceClient<PhoneNumber>(http, KIND);
  const events: string[] = [];
  const deps = {
    client,
    events: { record: (_o: unknown, _t: string, reason: string) => events.push(reason) } as unknown as EventRecorder,
    log: silentLogger(),
    now: () => new Date(),
  };

  const { namespace, create } = phoneNumberNamespace(http, client, "status");

  const ready = (numberString: string): PhoneNumberStatus => ({
    numberString,
    boundTo: `ws.${numberString.slice(1)}`,
    observedGeneration: 1,
    conditions: [
      {
        type: "Ready",
        status: "True",
        reason: "Available",
        message: "",
        lastTransitionTime: new Date().toISOString(),
        observedGeneration: 1,
      },
    ],
  });

  it("writes a new object's status, then only what changed, keeping what the cache did not know", async () => {
    const read = await create("plain");
    await writeStatus<PhoneNumber, PhoneNumberStatus>(deps, read, ready("+31600000001"));
    const first = await client.get(namespace, "plain");
    expect(first.status?.numberString).toBe("+31600000001");
    // Another field reaches the server that this reconcile's copy never saw; the next write changes one field.
    await client.patchStatus(namespace, "plain", { issues: ["seen by Bird"] });
    await writeStatus<PhoneNumber, PhoneNumberStatus>(deps, first, { ...first.status, numberString: "+31600000002" });
    const second = await client.get(namespace, "plain");
    expect(second.status?.numberString).toBe("+31600000002");
    expect(second.status?.issues).toEqual(["seen by Bird"]);
    expect(second.status?.boundTo).toBe("ws.31600000001");
    // A field the reconcile dropped is removed (a null, which the API server prunes from a non-nullable field).
    const { issues: _dropped, ...withoutIssues } = second.status ?? {};
    await writeStatus<PhoneNumber, PhoneNumberStatus>(deps, second, { ...withoutIssues, numberString: "+31600000002" });
    const third = await client.get(namespace, "plain");
    expect(third.status && "issues" in third.status).toBe(false);
    expect(third.status?.numberString).toBe("+31600000002");
  });

  it("writes nothing on an object deleted and re-created under the same name since it was read", async () => {
    const old = await create("replaced");
    await client.delete(namespace, "replaced");
    const fresh = await create("replaced");
    expect(fresh.metadata?.uid).not.toBe(old.metadata?.uid);
    await writeStatus<PhoneNumber, PhoneNumberStatus>(deps, old, ready("+31600000003"));
    expect((await client.get(namespace, "replaced")).status).toBeUndefined();
    expect(events).toEqual([]);
  });

  it("and nothing, without an error, on one deleted since", async () => {
    const old = await create("gone");
    await client.delete(namespace, "gone");
    await expect(
      writeStatus<PhoneNumber, PhoneNumberStatus>(deps, old, ready("+31600000004")),
    ).resolves.toBeUndefined();
    expect(events).toEqual([]);
  });
});

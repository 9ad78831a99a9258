import { describe, expect, it } from "vitest";
import type { PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { FINALIZER } from "../../src/api/v1alpha1/conditions.js";
import { addFinalizer, removeFinalizer } from "../../src/runtime/finalizer.js";
import { KubeHttp } from "../../src/runtime/kube-http.js";
import { MERGE_PATCH, ResourceClient } from "../../src/runtime/resource-client.js";
import { PHONE_NUMBER_RESOURCE, phoneNumberNamespace, testCluster } from "../helpers/cluster.js";

const KIND = PHONE_NUMBER_RESOURCE;

/**
 * The finalizer patch is what makes a reconcile of an object the cache shows without the finalizer safe without asking
 * the API server for its records (RecordStore.findHeld): it must fail when the object changed since the version read.
 */
describe("finalizer patches against the API server: the version decided on; lists cached as a stand-in", () => {
  const cluster = testCluster();
  const http = new KubeHttp(cluster.kubeConfig);
  const client = new ResourceClient<PhoneNumber>(http, KIND);

  const { namespace, create } = phoneNumberNamespace(http, client, "finalizer");

  it("adds it to the version read, and refuses a stale one (another replica added it meanwhile)", async () => {
    const read = await create("plain");
    const added = await addFinalizer(client, FINALIZER, read);
    expect(added.metadata?.finalizers).toEqual([FINALIZER]);

    const stale = await create("stale");
    await client.patch(namespace, "stale", { metadata: { labels: { touched: "yes" } } }, MERGE_PATCH);
    // A conflict (409), retried once the cache shows the change; not the API server's 422 for a failed test.
    await expect(addFinalizer(client, FINALIZER, stale)).rejects.toMatchObject({ code: 409 });
    expect((await client.get(namespace, "stale")).metadata?.finalizers).toBeUndefined();
  });

  it("lets a write the API server refuses itself stay a 422 (not retried as a conflict)", async () => {
    const read = await create("invalid");
    await expect(addFinalizer(client, "not a finalizer name", read)).rejects.toMatchObject({ code: 422 });
    expect((await client.get(namespace, "invalid")).metadata?.finalizers).toBeUndefined();
  });

  it("with finalizers of others, refuses a version whose spec changed since it was read", async () => {
    const read = await create("respecced", ["example.com/keep"]);
    await client.patch(namespace, "respecced", { spec: { deletionPolicy: "Retain" } }, MERGE_PATCH);
    await expect(addFinalizer(client, FINALIZER, read)).rejects.toMatchObject({ code: 409 });
    expect((await client.get(namespace, "respecced")).metadata?.finalizers).toEqual(["example.com/keep"]);
    await client.patch(namespace, "respecced", { metadata: { finalizers: [] } }, MERGE_PATCH);
  });

  it("with finalizers of others, refuses a list that changed since it was read", async () => {
    const read = await create("others", ["example.com/keep"]);
    await client.patch(namespace, "others", { metadata: { finalizers: ["example.com/keep", FINALIZER] } }, MERGE_PATCH);
    await expect(addFinalizer(client, FINALIZER, read)).rejects.toThrow();
    const now = await client.get(namespace, "others");
    expect(now.metadata?.finalizers).toEqual(["example.com/keep", FINALIZER]);
    await client.patch(namespace, "others", { metadata: { finalizers: [] } }, MERGE_PATCH);
  });

  // A cache holds a stand-in for a long list (InformerOptions.capFinalizers): the finalizer or the list's first.
  const others = Array.from({ length: 40 }, (_, i) => `tenant.example/f${i}`);
  const standIn = <T extends PhoneNumber>(object: T, finalizers: string[]): T => ({
    ...object,
    metadata: { ...object.metadata, finalizers },
  });

  it("adds to the end of a long list it holds only a stand-in of, keeping every other finalizer", async () => {
    const read = await create("long-add", others);
    const added = await addFinalizer(client, FINALIZER, standIn(read, others.slice(0, 1)));
    expect(added.metadata?.finalizers).toEqual([...others, FINALIZER]);
    expect((await client.get(namespace, "long-add")).metadata?.finalizers).toEqual([...others, FINALIZER]);
    await client.patch(namespace, "long-add", { metadata: { finalizers: [] } }, MERGE_PATCH);
  });

  it("removes its own from a long list it holds only a stand-in of, keeping every other finalizer", async () => {
    const read = await create("long-remove", [...others.slice(0, 20), FINALIZER, ...others.slice(20)]);
    const removed = await removeFinalizer(client, FINALIZER, standIn(read, [FINALIZER]));
    expect(removed.metadata?.finalizers).toEqual(others);
    expect((await client.get(namespace, "long-remove")).metadata?.finalizers).toEqual(others);
    await client.patch(namespace, "long-remove", { metadata: { finalizers: [] } }, MERGE_PATCH);
  });

  it("never removes it from another object created under the same name", async () => {
    const read = await create("replaced", [FINALIZER, ...others]);
    await client.patch(namespace, "replaced", { metadata: { finalizers: [] } }, MERGE_PATCH);
    await client.delete(namespace, "replaced");
    await create("replaced", [FINALIZER, "example.com/keep"]);
    await expect(removeFinalizer(client, FINALIZER, standIn(read, [FINALIZER]))).rejects.toMatchObject({ code: 409 });
    expect((await client.get(namespace, "replaced")).metadata?.finalizers).toEqual([FINALIZER, "example.com/keep"]);
    await client.patch(namespace, "replaced", { metadata: { finalizers: [] } }, MERGE_PATCH);
  });
});

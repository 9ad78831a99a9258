import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { FINALIZER } from "../../src/api/v1alpha1/conditions.js";
import { addFinalizer } from "../../src/runtime/finalizer.js";
import { KubeHttp } from "../../src/runtime/kube-http.js";
import { MERGE_PATCH, ResourceClient } from "../../src/runtime/resource-client.js";
import { PHONE_NUMBER_RESOURCE, testCluster, uniqueName } from "../helpers/cluster.js";

const KIND = PHONE_NUMBER_RESOURCE;

/**
 * The finalizer patch is what makes a reconcile of an object the cache shows without the finalizer safe without asking
 * the API server for its records (RecordStore.findHeld): it must fail when the object changed since the version read.
 */
describe("addFinalizer against the API server: the version it was decided on, or nothing", () => {
  const cluster = testCluster();
  const http = new KubeHttp(cluster.kubeConfig);
  const client = new ResourceClient<PhoneNumber>(http, KIND);
  const namespace = uniqueName("finalizer");

  beforeAll(async () => {
    await http.request({
      method: "POST",
      path: "/api/v1/namespaces",
      body: { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
    });
  });

  afterAll(async () => {
    await http.request({ method: "DELETE", path: `/api/v1/namespaces/${namespace}` }).catch(() => undefined);
    http.close();
  });

  const create = (name: string, finalizers?: string[]): Promise<PhoneNumber> =>
    client.create({
      apiVersion: `${KIND.group}/${KIND.version}`,
      kind: KIND.kind,
      metadata: { name, namespace, finalizers },
      spec: { workspaceRef: { name: "ws" }, countryCode: "US", type: "local" },
    } as PhoneNumber);

  it("adds it to the version read, and refuses a stale one (another replica added it meanwhile)", async () => {
    const read = await create("plain");
    const added = await addFinalizer(client, FINALIZER, read);
    expect(added.metadata?.finalizers).toEqual([FINALIZER]);

    const stale = await create("stale");
    await client.patch(namespace, "stale", { metadata: { labels: { touched: "yes" } } }, MERGE_PATCH);
    await expect(addFinalizer(client, FINALIZER, stale)).rejects.toThrow();
    expect((await client.get(namespace, "stale")).metadata?.finalizers).toBeUndefined();
  });

  it("with finalizers of others, refuses a list that changed since it was read", async () => {
    const read = await create("others", ["example.com/keep"]);
    await client.patch(namespace, "others", { metadata: { finalizers: ["example.com/keep", FINALIZER] } }, MERGE_PATCH);
    await expect(addFinalizer(client, FINALIZER, read)).rejects.toThrow();
    const now = await client.get(namespace, "others");
    expect(now.metadata?.finalizers).toEqual(["example.com/keep", FINALIZER]);
    await client.patch(namespace, "others", { metadata: { finalizers: [] } }, MERGE_PATCH);
  });
});

import { describe, expect, it } from "vitest";
import type { PhoneNumber } from "../../src/api/v1alpha1/index.js";
import { Annotation } from "../../src/api/v1alpha1/conditions.js";
import { LegacyClaims } from "../../src/controllers/phone-number/legacy.js";
import { handInformer } from "../helpers/usage-book.js";

const legacy = (name: string, uid: string, created: string): PhoneNumber =>
  ({
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "PhoneNumber",
    metadata: {
      namespace: "team-a",
      name,
      uid,
      creationTimestamp: created,
      annotations: { [Annotation.legacyNumberId]: "num-1" },
    },
    spec: { workspaceRef: { name: "ws" } },
  }) as unknown as PhoneNumber;

describe("LegacyClaims", () => {
  it("lets only the oldest object carrying a hint claim it", () => {
    const informer = handInformer<PhoneNumber>();
    const claims = new LegacyClaims(informer);
    const original = legacy("a", "uid-a", "2026-01-01T00:00:00Z");
    const copy = legacy("b", "uid-b", "2026-06-01T00:00:00Z");
    informer.put(original);
    informer.put(copy);
    expect(claims.isOldestClaimant(original)).toBe(true);
    expect(claims.isOldestClaimant(copy)).toBe(false);
    informer.drop("a");
    expect(claims.isOldestClaimant(copy)).toBe(true);
  });

  it("forgets an object replaced by another of the same name in one event (deleted, created while unwatched)", () => {
    const informer = handInformer<PhoneNumber>();
    const claims = new LegacyClaims(informer);
    informer.put(legacy("a", "uid-old", "2026-01-01T00:00:00Z"));
    const again = legacy("a", "uid-new", "2026-06-01T00:00:00Z");
    // The relist after a watch outage shows the new object as an update of the old one.
    informer.put(again);
    expect(claims.isOldestClaimant(again)).toBe(true);
  });
});

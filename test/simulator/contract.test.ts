import { describe, expect, it } from "vitest";
import { API_HANDLERS } from "../../src/simulator/api-routes.js";
import { birdContract } from "../../src/simulator/openapi.js";

describe("simulator contract coverage", () => {
  it("implements every operation of openapi/bird.yaml", () => {
    const operations = birdContract()
      .operations.map((op) => op.operationId)
      .sort();
    expect(Object.keys(API_HANDLERS).sort()).toEqual(operations);
  });
});

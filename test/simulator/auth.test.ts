import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorBody, RunningSimulator } from "../../src/simulator/index.js";
import { call, expectNoViolations, startTestSimulator, stockPath, workspacePath, type List } from "./helpers.js";

const OTHER = {
  organizationId: "33333333-3333-4333-8333-333333333333",
  workspaceId: "44444444-4444-4444-8444-444444444444",
  accessKey: "other-access-key",
};

describe("simulator authentication and errors", () => {
  let running: RunningSimulator;

  beforeAll(async () => {
    running = await startTestSimulator({ extraWorkspaces: [OTHER], rateLimits: { enabled: false } });
  });

  afterAll(async () => {
    expectNoViolations(running);
    await running.close();
  });

  it("answers 401 without a key, with a wrong key, or with another scheme", async () => {
    for (const accessKey of [null, "wrong-key"]) {
      const answer = await call<ErrorBody>(running, "GET", workspacePath(running, "/numbers-long-code"), { accessKey });
      expect(answer.status).toBe(401);
      expect(Object.keys(answer.body).sort()).toEqual(["code", "message"]);
      expect(answer.body.code).toBe("unauthorized");
    }
    const bearer = await fetch(`${running.url}${workspacePath(running, "/numbers-alpha")}`, {
      headers: { authorization: "Bearer demo-access-key" },
    });
    expect(bearer.status).toBe(401);
  });

  it("answers 403 when a valid key is used on another workspace or organization", async () => {
    const workspace = await call<ErrorBody>(running, "GET", `/workspaces/${OTHER.workspaceId}/numbers-long-code`);
    expect(workspace.status).toBe(403);
    expect(workspace.body).toMatchObject({ code: "forbidden", details: { workspaceId: OTHER.workspaceId } });
    const organization = await call<ErrorBody>(
      running,
      "GET",
      `/organizations/${OTHER.organizationId}/numbers-stock-items`,
    );
    expect(organization.status).toBe(403);
    const post = await call<ErrorBody>(running, "POST", `/workspaces/${OTHER.workspaceId}/numbers-long-code`, {
      body: { numberStockItemIds: [] },
    });
    expect(post.status).toBe(403);
  });

  it("serves each extra workspace with its own key, organization and stock", async () => {
    const own = await call<List<unknown>>(running, "GET", `/workspaces/${OTHER.workspaceId}/numbers-alpha`, {
      accessKey: OTHER.accessKey,
    });
    expect(own.status).toBe(200);
    expect(own.body.results).toHaveLength(3);
    const stock = await call<List<{ id: string }>>(
      running,
      "GET",
      `/organizations/${OTHER.organizationId}/numbers-stock-items`,
      {
        accessKey: OTHER.accessKey,
      },
    );
    const defaultStock = await call<List<{ id: string }>>(running, "GET", stockPath(running));
    expect(stock.body.results[0]?.id).not.toBe(defaultStock.body.results[0]?.id);
  });

  it("answers unknown paths with 404 and wrong methods with 405, in the error shape", async () => {
    const unknown = await call<ErrorBody>(running, "GET", workspacePath(running, "/numbers-short-code"));
    expect(unknown).toMatchObject({ status: 404, body: { code: "not-found" } });
    const method = await call<ErrorBody>(running, "DELETE", workspacePath(running, "/numbers-long-code"));
    expect(method).toMatchObject({ status: 405, body: { code: "method-not-allowed" } });
  });

  it("accepts a trailing slash as Bird's own examples use", async () => {
    const answer = await call(running, "GET", workspacePath(running, "/numbers-alpha/"));
    expect(answer.status).toBe(200);
  });

  it("answers 404 for unknown endpoints, subscriptions and senders", async () => {
    const id = "00000000-0000-4000-8000-000000000000";
    for (const path of [
      `/numbers-alpha/${id}`,
      `/endpoints/${id}/subscriptions`,
      `/endpoints/${id}/subscriptions/main`,
    ]) {
      const answer = await call<ErrorBody>(running, "GET", workspacePath(running, path));
      expect(answer.status, path).toBe(404);
      expect(answer.body.code).toBe("not-found");
    }
  });
});

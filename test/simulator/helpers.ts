import { expect } from "vitest";
import {
  DEFAULT_ACCESS_KEY,
  startSimulator,
  type RunningSimulator,
  type SimulatorOptions,
} from "../../src/simulator/index.js";

export interface Answer<T> {
  status: number;
  body: T;
}

export interface CallOptions {
  body?: unknown;
  accessKey?: string | null;
  query?: Record<string, string | number | boolean | string[]>;
}

/** Starts a simulator that checks its own answers against the contract; `expectNoViolations` asserts on that. */
export async function startTestSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  return startSimulator({ validateResponses: true, provisioningDelayMs: 0, ...options });
}

export function expectNoViolations(running: RunningSimulator): void {
  expect(running.sim.responseViolations()).toEqual([]);
}

function queryString(query: CallOptions["query"]): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    for (const item of Array.isArray(value) ? value : [value]) params.append(name, String(item));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** A plain fetch against the simulator, the way any HTTP client would call Bird. */
export async function call<T = unknown>(
  running: RunningSimulator,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { accept: "application/json" };
  const accessKey = options.accessKey === undefined ? DEFAULT_ACCESS_KEY : options.accessKey;
  if (accessKey !== null) headers.authorization = `AccessKey ${accessKey}`;
  const init: RequestInit = { method, headers };
  if (options.body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
  }
  const response = await fetch(`${running.url}${path}${queryString(options.query)}`, init);
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export function workspacePath(running: RunningSimulator, rest: string): string {
  return `/workspaces/${running.sim.identity.workspaceId}${rest}`;
}

export function stockPath(running: RunningSimulator): string {
  return `/organizations/${running.sim.identity.organizationId}/numbers-stock-items`;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface List<T> {
  results: T[];
  nextPageToken?: string;
}

/** Follows nextPageToken to the end; returns every item and how many pages it took. */
export async function listAll<T>(
  running: RunningSimulator,
  path: string,
  query: CallOptions["query"] = {},
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let pages = 0;
  let pageToken: string | undefined;
  do {
    const answer = await call<List<T>>(running, "GET", path, {
      query: { ...query, ...(pageToken ? { pageToken } : {}) },
    });
    expect(answer.status).toBe(200);
    items.push(...answer.body.results);
    pageToken = answer.body.nextPageToken;
    pages++;
  } while (pageToken !== undefined);
  return { items, pages };
}

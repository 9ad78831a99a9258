import { sharedHttpSend, type BirdSend } from "../bird/http-send.js";
import { KubeHttp, type KubeRequest } from "../runtime/kube-http.js";

/** Thrown before anything leaves the process when the plan would write. A plan that throws it has a bug. */
export class WriteRefused extends Error {
  constructor(what: string) {
    super(`bird-operator plan never writes; refused to send ${what}`);
    this.name = "WriteRefused";
  }
}

/**
 * The planner's API server client: reads, and writes only as server-side dry runs (`dryRun=All`), which the API
 * server validates and admits but never persists. Anything else is refused here, whatever the caller's RBAC allows.
 */
export class ReadOnlyKubeHttp extends KubeHttp {
  override request<T>(req: KubeRequest): Promise<T> {
    if (req.method !== "GET" && req.query?.dryRun !== "All")
      return Promise.reject(new WriteRefused(`${req.method} ${req.path} without dryRun=All`));
    return super.request<T>(req);
  }
}

/**
 * The planner's sender for Bird: GETs, and the one POST that changes nothing, activating destinations with
 * `validate=true` ("only validates the request payload without mutating any data", Bird's destinations page). It
 * wraps the operator's own (proxy-aware) sender unless a test injects another.
 */
export function readOnlySend(inner: BirdSend = sharedHttpSend()): BirdSend {
  return (request) => {
    if (request.method === "GET" || isValidateOnly(request)) return inner(request);
    return Promise.reject(new WriteRefused(`${request.method} ${new URL(request.url).pathname} to Bird`));
  };
}

function isValidateOnly(request: { method: string; url: string }): boolean {
  const url = new URL(request.url);
  return (
    request.method === "POST" &&
    url.pathname.endsWith("/destinations/activate") &&
    url.searchParams.get("validate") === "true"
  );
}

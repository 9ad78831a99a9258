import type { V1Namespace } from "@kubernetes/client-node";
import { Reason } from "../api/v1alpha1/conditions.js";
import { PermanentError, Waiting } from "../runtime/errors.js";
import type { Informer } from "../runtime/informer.js";
import { namespaceAllowed } from "./guardrails.js";
import type { Resolution, WorkspaceConnection, WorkspaceConnections } from "../workspace/connections.js";

/** A namespaced resource that names a workspace: a PhoneNumber or an AlphaSender. */
export interface WorkspaceUser {
  metadata?: { namespace?: string };
  spec: { workspaceRef: { name: string } };
}

export interface AdmissionOptions {
  connections: WorkspaceConnections;
  /** Every namespace, for its labels: a label change re-admits (or refuses) its resources at once. */
  namespaces: Informer<V1Namespace>;
  operatorNamespace: string;
  resyncMs: number;
}

/**
 * Whether a resource may use its workspace: the workspace exists, is Ready, and admits the resource's namespace. The
 * answer comes from caches (workspaces, namespaces), so it costs no request; the operator watches both, so a refusal
 * is re-examined as soon as what it depends on changes.
 */
export class Admission {
  constructor(private readonly options: AdmissionOptions) {}

  /** Whether the namespace may use the workspace now; the reason and message when it may not. */
  check(object: WorkspaceUser): Resolution<WorkspaceConnection> {
    const resolved = this.options.connections.connectReady(object.spec.workspaceRef.name);
    return resolved.ok ? this.namespaceAdmitted(object, resolved) : resolved;
  }

  /**
   * Whether the workspace's allowedNamespaces admits the namespace, however the workspace is (not Ready, being
   * deleted): deletion asks this, so a namespace taken out never cancels, even while its workspace is failing.
   */
  namespaceCheck(object: WorkspaceUser): Resolution<WorkspaceConnection> {
    const resolved = this.options.connections.connect(object.spec.workspaceRef.name);
    return resolved.ok ? this.namespaceAdmitted(object, resolved) : resolved;
  }

  private namespaceAdmitted(
    object: WorkspaceUser,
    resolved: Resolution<WorkspaceConnection> & { ok: true },
  ): Resolution<WorkspaceConnection> {
    const namespace = object.metadata?.namespace ?? "";
    const labels = this.options.namespaces.get(namespace)?.metadata?.labels ?? {};
    const allowed = namespaceAllowed(resolved.value.workspace, namespace, this.options.operatorNamespace, labels);
    return allowed.ok ? resolved : allowed;
  }

  /**
   * The connection, or an error saying why not: a workspace that is missing or not Ready is waited for; a namespace it
   * refuses is reported as Forbidden (the namespace and workspace watches wake the resource when that changes).
   */
  connect(object: WorkspaceUser): WorkspaceConnection {
    const resolved = this.check(object);
    if (resolved.ok) return resolved.value;
    if (resolved.reason === Reason.Forbidden) throw new PermanentError(resolved.message, resolved.reason);
    throw new Waiting(resolved.message, resolved.reason, this.options.resyncMs);
  }
}

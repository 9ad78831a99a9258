import type { V1Secret } from "@kubernetes/client-node";
import type { BirdWorkspace } from "../../api/v1alpha1/index.js";
import { Controller } from "../../runtime/controller.js";
import { controllerOptions, type SetupDeps } from "../setup-deps.js";
import { WorkspaceReconciler } from "./reconciler.js";

/**
 * The BirdWorkspace controller: its reconciler and what wakes it
 * (its Secret, its claims and records, other workspaces).
 */
export function setupWorkspaceController(deps: SetupDeps): Controller {
  const { clients, informers, connections, events, config } = deps;
  const { workspaces, secrets, phoneNumbers, alphaSenders, birdNumbers, birdSenders } = informers;
  const reconciler = new WorkspaceReconciler({
    client: clients.workspace,
    informer: workspaces,
    phoneNumbers,
    alphaSenders,
    numberRecords: deps.numberRecords,
    senderRecords: deps.senderRecords,
    usage: deps.usage,
    secrets,
    secretClient: clients.secret,
    connections,
    events,
    resyncMs: config.resyncMs,
  });
  return (
    new Controller(controllerOptions(deps, "birdworkspace", reconciler.reconcile))
      .watchPrimary(workspaces, deps.ownWrites)
      .watchRelated(secrets, (secret) =>
        workspaces
          .list()
          .filter((ws) => referencesSecret(ws, secret))
          .map((ws) => ws.metadata?.name ?? ""),
      )
      .watchRelated(phoneNumbers, (pn) => [pn.spec.workspaceRef.name], 2000)
      .watchRelated(alphaSenders, (alphaSender) => [alphaSender.spec.workspaceRef.name], 2000)
      .watchRelated(birdNumbers, (record) => [record.spec.workspaceRef.name], 2000)
      .watchRelated(birdSenders, (record) => [record.spec.workspaceRef.name], 2000)
      // A new or deleted workspace can make another one a duplicate, or stop it being one.
      .watchRelated(workspaces, (ws, old, type) =>
        type === "update" && old ? [] : workspaces.list().map((w) => w.metadata?.name ?? ""),
      )
  );
}

function referencesSecret(workspace: BirdWorkspace, secret: V1Secret): boolean {
  const ref = workspace.spec.accessKeySecretRef;
  return ref.namespace === secret.metadata?.namespace && ref.name === secret.metadata?.name;
}

import { Controller } from "../../runtime/controller.js";
import { Waiters } from "../../runtime/waiters.js";
import { claimsInNamespace, claimsOfWorkspace, holderOf } from "../claim-watches.js";
import { controllerOptions, managedDeps, type SetupDeps } from "../setup-deps.js";
import { SenderClaims } from "./claim.js";
import { AlphaSenderReconciler } from "./reconciler.js";

/** The AlphaSender controller: its reconciler, the claims behind it, and what wakes it. */
export function setupAlphaSenderController(deps: SetupDeps): Controller {
  const { clients, informers, events, admission, senderRecords: records, now } = deps;
  const { alphaSenders, workspaces, namespaces, birdSenders } = informers;
  const waiters = new Waiters((key) => controller.queue.add(key));
  const reconciler = new AlphaSenderReconciler({
    ...managedDeps(deps),
    client: clients.alphaSender,
    informer: alphaSenders,
    records,
    claims: new SenderClaims({ records, informer: alphaSenders, admission, events, waiters, now }),
    usage: deps.usage,
  });
  const controller = new Controller(controllerOptions(deps, "alphasender", reconciler.reconcile))
    .watchPrimary(alphaSenders, deps.ownWrites)
    .watchRelated(workspaces, (ws, old) => claimsOfWorkspace(alphaSenders, ws, old))
    .watchRelated(namespaces, (ns, old) => claimsInNamespace(alphaSenders, ns, old))
    .watchRelated(birdSenders, (record) => {
      waiters.notify(record.metadata?.name ?? "");
      return holderOf(record);
    });
  return controller;
}

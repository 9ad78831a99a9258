-- Argo CD health of PhoneNumber, AlphaSender and BirdWorkspace (numbers.birdoperator.dev/v1alpha1).
-- The one source of the script: scripts/generate-argocd-health.ts copies it into argocd-cm-health.yaml under all three
-- keys, and test/unit/argocd-health.test.ts runs the copies in that ConfigMap. Plain Lua 5.1 (Argo CD runs gopher-lua).
--
-- Checked in this order, first match wins:
--   metadata.deletionTimestamp set                              Progressing  finalizer still releasing the number
--   no status, or no conditions                                 Progressing  the operator has not reported yet
--   status.observedGeneration ~= metadata.generation            Progressing  the current spec is not reconciled yet
--   Synced False or Ready False with a reason marked Degraded   Degraded     a person must act (table below)
--   Ready True for the current generation                       Healthy      (Synced False with a transient reason is
--                                                                            shown in the message: the number works)
--   Ready missing, or True for an older generation              Progressing
--   Ready False with a reason marked Progressing, or unknown    Progressing  the operator retries or polls by itself
--
-- Reasons (Ready or Synced False):
--   Degraded, permanent: the operator waits for a spec or credential change and does not retry
--     PolicyViolation PriceAboveLimit Forbidden NumberLost CannotPurchase SenderConflict NumberConflict
--     Unauthorized PermissionDenied SecretNotFound KeyNotFound
--     DestinationUnavailable (Bird cannot serve a destination of spec.destinations on the number)
--   Degraded, waiting on a person: the operator polls, but nothing changes until someone acts
--     NumberUnavailable (the number or the filters match no stock), QuotaExceeded (spec.policy of the workspace),
--     WorkspaceNotFound (spec.workspaceRef), BirdIssues (Bird reports issues on the number),
--     SubscriptionInactive (cancelled outside the operator; Bird will release the number),
--     SenderNotFound (the sender is not registered in Bird), CountryBlocked (Bird blocks the country for the sender),
--     CountryUnavailable (Bird cannot send from alphanumeric senders to the country),
--     StatusRejected (the API server refused the status built from Bird's answer),
--     UnknownProvisioningStatus (Bird reports a provisioning status the operator does not know),
--     DuplicateWorkspace (another BirdWorkspace names the same Bird workspace), InUse (a workspace being deleted)
--   Progressing: the operator gets there by itself
--     Creating Provisioning PurchasePending DestinationsPending Deleting WorkspaceNotReady (the workspace shows why)
--     BirdUnreachable ReconcileError (retried with backoff), and any reason not listed here

local DEGRADED = {
  PolicyViolation = true,
  PriceAboveLimit = true,
  Forbidden = true,
  NumberLost = true,
  CannotPurchase = true,
  SenderConflict = true,
  NumberConflict = true,
  Unauthorized = true,
  PermissionDenied = true,
  SecretNotFound = true,
  KeyNotFound = true,
  DestinationUnavailable = true,
  NumberUnavailable = true,
  QuotaExceeded = true,
  WorkspaceNotFound = true,
  BirdIssues = true,
  SubscriptionInactive = true,
  SenderNotFound = true,
  CountryBlocked = true,
  CountryUnavailable = true,
  StatusRejected = true,
  UnknownProvisioningStatus = true,
  DuplicateWorkspace = true,
  InUse = true,
}

local function condition(conditions, wanted)
  for _, c in ipairs(conditions) do
    if c.type == wanted then
      return c
    end
  end
  return nil
end

local function describe(c)
  local text = tostring(c.reason or "Unknown")
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. tostring(c.message)
  end
  return text
end

-- False for the current generation with a reason a person must act on.
local function failedFor(c, generation)
  return c ~= nil and c.status == "False" and c.observedGeneration == generation and DEGRADED[c.reason] == true
end

local function health(o)
  local metadata = o.metadata or {}
  local generation = metadata.generation
  if metadata.deletionTimestamp ~= nil then
    return { status = "Progressing", message = "Deleting: waiting for the operator to release what this resource holds in Bird" }
  end
  local status = o.status
  if status == nil or status.conditions == nil or #status.conditions == 0 then
    return { status = "Progressing", message = "Waiting for the operator to report status" }
  end
  if status.observedGeneration ~= generation then
    return { status = "Progressing", message = "Waiting for the operator to reconcile generation " .. tostring(generation) }
  end
  local ready = condition(status.conditions, "Ready")
  local synced = condition(status.conditions, "Synced")
  -- Two checks, not a loop over { synced, ready }: ipairs would stop at a missing Synced.
  if failedFor(synced, generation) then
    return { status = "Degraded", message = describe(synced) }
  end
  if failedFor(ready, generation) then
    return { status = "Degraded", message = describe(ready) }
  end
  if ready == nil or ready.observedGeneration ~= generation then
    return { status = "Progressing", message = "Waiting for the Ready condition of generation " .. tostring(generation) }
  end
  if ready.status == "True" then
    local message = ready.message or ""
    if synced ~= nil and synced.status == "False" then
      message = message .. " (last sync failed, retrying: " .. describe(synced) .. ")"
    end
    return { status = "Healthy", message = message }
  end
  return { status = "Progressing", message = describe(ready) }
end

return health(obj)

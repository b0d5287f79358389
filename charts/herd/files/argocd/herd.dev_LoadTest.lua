-- Argo CD health of herd's LoadTest (docs/argocd-health.md).
hs = {status = "Progressing", message = "waiting for the operator"}
if obj.status == nil or obj.status.phase == nil then
  return hs
end
local phase = obj.status.phase
hs.message = obj.status.message or phase
if phase == "Invalid" or phase == "Failed" then
  hs.status = "Degraded"
elseif phase == "Succeeded" then
  local summary = obj.status.summary
  if summary ~= nil and summary.verdict == "passed" then
    hs.status = "Healthy"
  else
    hs.status = "Degraded"
    if summary ~= nil and summary.verdict ~= nil and summary.verdictReason ~= nil then
      hs.message = summary.verdict .. ": " .. summary.verdictReason
    end
  end
elseif phase == "Idle" then
  hs.status = "Healthy"
end
return hs

-- Argo CD health of herd's LoadTestRun (docs/argocd-health.md).
hs = {status = "Progressing", message = "waiting for the operator"}
if obj.status == nil or obj.status.phase == nil then
  return hs
end
local phase = obj.status.phase
hs.message = obj.status.message or phase
if phase == "Succeeded" then
  if obj.status.verdict == "passed" then
    hs.status = "Healthy"
  else
    hs.status = "Degraded"
  end
elseif phase == "Failed" or phase == "Invalid" then
  hs.status = "Degraded"
end
return hs

{{/*
Exactly the calls the operator makes (herd_operator.kube and kopf's watches, indexes,
annotations and events); no wildcards (tests/chart checks every rule). kopf runs
standalone (one replica): no peering objects.
*/}}
{{- define "herd.namespacedRules" -}}
# Reconcilers read LoadTests; kopf watches them and keeps its progress in annotations (patch).
- apiGroups: [herd.dev]
  resources: [loadtests]
  verbs: [get, list, watch, patch]
# A run per execution: created, read, deleted past the history limits or by Replace.
- apiGroups: [herd.dev]
  resources: [loadtestruns]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [herd.dev]
  resources: [loadtests/status, loadtestruns/status]
  verbs: [patch]
# Owner references with blockOwnerDeletion (runs owned by LoadTests, Jobs and ConfigMaps by
# runs) need this where the OwnerReferencesPermissionEnforcement admission plugin is on.
- apiGroups: [herd.dev]
  resources: [loadtests/finalizers, loadtestruns/finalizers]
  verbs: [update]
# Runner Jobs: created per run, watched (a kopf index), suspended (patch), deleted after
# ttlSecondsAfterFinished.
- apiGroups: [batch]
  resources: [jobs]
  verbs: [list, watch, create, patch, delete]
# Runner pods are only watched: their state and termination messages (the results).
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch]
# The LoadTest file each runner mounts: created with the Job, deleted with it.
- apiGroups: [""]
  resources: [configmaps]
  verbs: [create, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end }}

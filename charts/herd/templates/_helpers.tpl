{{/*
Names are truncated to 63 characters: Kubernetes names and label values may not be longer.
*/}}
{{- define "herd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's full name: the release name alone when it already contains the chart name.
*/}}
{{- define "herd.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "herd.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: the immutable subset a Deployment selects its pods by. They include the
component, so the operator's selector never matches runner pods (also app.kubernetes.io/name
herd, component runner, instance the LoadTest's name).
*/}}
{{- define "herd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "herd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/component: operator
{{- end }}

{{/*
Every object's labels: the selector labels plus those that change between releases.
*/}}
{{- define "herd.labels" -}}
helm.sh/chart: {{ include "herd.chart" . }}
{{ include "herd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/part-of: herd
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "herd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "herd.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
repository@digest when a digest is given, else repository:tag (default: the appVersion).
*/}}
{{- define "herd.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "herd.runnerImage" -}}
{{- default (include "herd.image" .) .Values.runners.image }}
{{- end }}

{{/*
Namespaces the operator watches, as a JSON list (namespaces scope; default: the release's).
*/}}
{{- define "herd.watchNamespaces" -}}
{{- $namespaces := .Values.watch.namespaces | default (list .Release.Namespace) }}
{{- toJson (uniq $namespaces) }}
{{- end }}

{{/*
Namespaces that get the runners' NetworkPolicy: the watched ones, or (cluster scope) the
release's namespace plus runners.networkPolicy.namespaces.
*/}}
{{- define "herd.runnerNamespaces" -}}
{{- $namespaces := .Values.runners.networkPolicy.namespaces }}
{{- if eq .Values.watch.scope "namespaces" }}
{{- $namespaces = concat (include "herd.watchNamespaces" . | fromJsonArray) $namespaces }}
{{- else }}
{{- $namespaces = prepend $namespaces .Release.Namespace }}
{{- end }}
{{- toJson (uniq $namespaces) }}
{{- end }}

{{/*
The labels the operator puts on every runner pod (herd_operator.naming.run_labels): what the
runners' NetworkPolicy and PodMonitor select.
*/}}
{{- define "herd.runnerSelectorLabels" -}}
app.kubernetes.io/name: herd
app.kubernetes.io/component: runner
app.kubernetes.io/managed-by: herd-operator
{{- end }}

{{/*
The chart's Pushgateway: its name, the labels its pod and Service select by, its image.
*/}}
{{- define "herd.pushgatewayName" -}}
{{- printf "%s-pushgateway" (include "herd.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "herd.pushgatewaySelectorLabels" -}}
app.kubernetes.io/name: {{ include "herd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/component: pushgateway
{{- end }}

{{- define "herd.pushgatewayLabels" -}}
helm.sh/chart: {{ include "herd.chart" . }}
{{ include "herd.pushgatewaySelectorLabels" . }}
app.kubernetes.io/version: {{ .Values.pushgateway.image.tag | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/part-of: herd
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "herd.pushgatewayImage" -}}
{{- with .Values.pushgateway.image }}
{{- if .digest }}
{{- printf "%s@%s" .repository .digest }}
{{- else }}
{{- printf "%s:%s" .repository .tag }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Where runners push when a LoadTest names no Pushgateway: runners.pushgateway, else the
chart's own Pushgateway when it is deployed, else nowhere (empty).
*/}}
{{- define "herd.runnerPushgateway" -}}
{{- if .Values.runners.pushgateway }}
{{- .Values.runners.pushgateway }}
{{- else if .Values.pushgateway.enabled }}
{{- printf "http://%s.%s.svc:%d" (include "herd.pushgatewayName" .) .Release.Namespace (.Values.pushgateway.port | int) }}
{{- end }}
{{- end }}

{{/*
Written by hand; the other templates are generated from `kubectl kustomize deploy/` (npm run generate:helm).
*/}}

{{/* Helm's labels, beside the ones deploy/'s kustomization sets (part-of) and each object's own. */}}
{{- define "bird-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/* The operator image: pinned by digest when one is given (as dist/install.yaml is), else by tag. */}}
{{- define "bird-operator.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end }}

{{/*
Names and labels shared by every template.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "paddock.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's full name: "<release>-paddock", or the release name alone when it
already contains the chart name (release "paddock" gives "paddock").
Truncated to 63 characters: Kubernetes names and label values are DNS labels.
*/}}
{{- define "paddock.fullname" -}}
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

{{- define "paddock.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: stable for the life of a release (a Deployment's selector is immutable). */}}
{{- define "paddock.selectorLabels" -}}
app.kubernetes.io/name: {{ include "paddock.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Labels on every object the chart creates. */}}
{{- define "paddock.labels" -}}
helm.sh/chart: {{ include "paddock.chart" . }}
{{ include "paddock.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: paddock
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The ServiceAccount the operator runs as. */}}
{{- define "paddock.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "paddock.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest is set. */}}
{{- define "paddock.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The name of the Lease the operator's replicas elect a leader with. Fixed in the
operator (paddock.controller.leadership); the Role grants get/update on it alone.
*/}}
{{- define "paddock.leaseName" -}}
paddock-scheduler
{{- end }}

{{/*
A map as host=value,host=value (sorted), for PADDOCK_IMAGE_REGISTRY_TIMEOUTS.
*/}}
{{- define "paddock.pairs" -}}
{{- $out := list -}}
{{- range $key, $value := . -}}
{{- $out = append $out (printf "%s=%v" $key $value) -}}
{{- end -}}
{{- join "," $out -}}
{{- end -}}

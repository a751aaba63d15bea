{{/* Name of the chart. */}}
{{- define "modelport.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified app name: release-chart, or fullnameOverride. */}}
{{- define "modelport.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "modelport.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "modelport.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Selector labels: name and instance only (they never change across upgrades). */}}
{{- define "modelport.selectorLabels" -}}
app.kubernetes.io/name: {{ include "modelport.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Standard labels for every object; `component` is router or a backend name. */}}
{{- define "modelport.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{ include "modelport.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: modelport
{{- end -}}

{{/* image reference: repository:tag (tag defaults to the chart's appVersion). */}}
{{- define "modelport.image" -}}
{{- $tag := default .root.Chart.AppVersion .image.tag -}}
{{- if .image.digest -}}
{{ .image.repository }}@{{ .image.digest }}
{{- else -}}
{{ .image.repository }}:{{ $tag }}
{{- end -}}
{{- end -}}

{{/* Restricted container securityContext (non-root, read-only root, no capabilities). */}}
{{- define "modelport.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Pod securityContext. */}}
{{- define "modelport.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Environment every pod shares: logs, traces, the plaintext health port for probes. */}}
{{- define "modelport.commonEnv" -}}
- name: MODELPORT_HEALTH_PORT
  value: "8086"
- name: MODELPORT_LOG_FORMAT
  value: {{ .Values.observability.logFormat | quote }}
{{- with .Values.observability.otlpEndpoint }}
- name: MODELPORT_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- if .Values.security.tls.secretName }}
- name: MODELPORT_TLS_CERT_FILE
  value: /etc/modelport/tls/tls.crt
- name: MODELPORT_TLS_KEY_FILE
  value: /etc/modelport/tls/tls.key
{{- end }}
{{- end -}}

{{/* gRPC probes on the plaintext health port (kubelet's gRPC probes cannot speak TLS). */}}
{{- define "modelport.healthProbes" -}}
livenessProbe:
  grpc:
    port: 8086
  periodSeconds: 10
  failureThreshold: 3
# SERVING only once the models are loaded and warmed up.
readinessProbe:
  grpc:
    port: 8086
  periodSeconds: 5
{{- end -}}

{{/* Name of the Secret holding the router's token towards the backends (key `token`). */}}
{{- define "modelport.routerTokenSecret" -}}
{{- default (printf "%s-router-token" (include "modelport.fullname" .)) .Values.security.auth.routerTokenSecret -}}
{{- end -}}

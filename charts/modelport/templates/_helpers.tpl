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

{{/* Restricted container securityContext (values: containerSecurityContext). */}}
{{- define "modelport.containerSecurityContext" -}}
{{- toYaml .Values.containerSecurityContext -}}
{{- end -}}

{{/* Pod securityContext (values: podSecurityContext). */}}
{{- define "modelport.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext -}}
{{- end -}}

{{/* Soft spread over zones and nodes of one component's pods (pods of the same
rollout only: pod-template-hash). Args: root, component, constraints, spread. */}}
{{- define "modelport.topologySpread" -}}
{{- if .constraints -}}
topologySpreadConstraints:
  {{- toYaml .constraints | nindent 2 }}
{{- else if .spread -}}
topologySpreadConstraints:
  {{- range list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
  - maxSkew: 1
    topologyKey: {{ . }}
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "modelport.selectorLabels" $ | nindent 8 }}
    matchLabelKeys: ["pod-template-hash"]
  {{- end }}
{{- end }}
{{- end -}}

{{/* Pod annotations: scrape annotations, the Secrets a reloader watches, extras.
Args: root, annotations (extra), secrets (names). */}}
{{- define "modelport.podAnnotations" -}}
{{- $root := .root -}}
{{- $out := dict -}}
{{- if $root.Values.metrics.scrapeAnnotations }}
{{- $_ := set $out "prometheus.io/scrape" "true" }}
{{- $_ := set $out "prometheus.io/port" (toString $root.Values.metrics.port) }}
{{- $_ := set $out "prometheus.io/path" "/metrics" }}
{{- end }}
{{- if and $root.Values.security.reloader .secrets }}
{{- $_ := set $out "secret.reloader.stakater.com/reload" (join "," (uniq .secrets)) }}
{{- end }}
{{- $out = merge (deepCopy (default dict .annotations)) $out }}
{{- with $out }}{{ toYaml . }}{{ end }}
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

{{/* gRPC probes on the plaintext health port (kubelet's gRPC probes cannot speak TLS).
Args: liveness, readiness (periodSeconds, failureThreshold, timeoutSeconds each). */}}
{{- define "modelport.healthProbes" -}}
livenessProbe:
  grpc:
    port: 8086
  periodSeconds: {{ .liveness.periodSeconds }}
  failureThreshold: {{ .liveness.failureThreshold }}
  timeoutSeconds: {{ .liveness.timeoutSeconds }}
# SERVING only once the models are loaded and warmed up.
readinessProbe:
  grpc:
    port: 8086
  periodSeconds: {{ .readiness.periodSeconds }}
  failureThreshold: {{ .readiness.failureThreshold }}
  timeoutSeconds: {{ .readiness.timeoutSeconds }}
{{- end -}}

{{/* Name of the Secret holding the router's token towards the backends (key `token`). */}}
{{- define "modelport.routerTokenSecret" -}}
{{- default (printf "%s-router-token" (include "modelport.fullname" .)) .Values.security.auth.routerTokenSecret -}}
{{- end -}}


{{/* Name of the Secret holding the router's client tokens (`tokens.yaml`). */}}
{{- define "modelport.tokensSecret" -}}
{{- default (printf "%s-tokens" (include "modelport.fullname" .)) .Values.security.auth.tokensSecret -}}
{{- end -}}

{{/* Name of the Secret with the router's own keypair. */}}
{{- define "modelport.routerTlsSecret" -}}
{{- default .Values.security.tls.secretName .Values.security.tls.routerSecretName -}}
{{- end -}}

{{/* The name the router's own certificate (security.tls.routerSecretName) must carry:
backends map it to role router (MODELPORT_AUTH_TLS_IDENTITIES). */}}
{{- define "modelport.routerCertName" -}}
{{- printf "%s-router" (include "modelport.fullname" .) -}}
{{- end -}}

{{/* The name every backend certificate must carry (the router checks it). */}}
{{- define "modelport.backendServerName" -}}
{{- printf "%s-backend" (include "modelport.fullname" .) -}}
{{- end -}}

{{/* The shared model cache claim, if any. */}}
{{- define "modelport.cacheClaim" -}}
{{- if .Values.modelCache.existingClaim -}}
{{ .Values.modelCache.existingClaim }}
{{- else if .Values.modelCache.create -}}
{{ printf "%s-model-cache" (include "modelport.fullname" .) }}
{{- end -}}
{{- end -}}

{{/* Cache, thread and offline environment of a backend's containers (arg: the merged
backend values). Threads follow the container's CPU limit unless torchThreads is set. */}}
{{- define "modelport.backendCacheEnv" -}}
- name: MODELPORT_CACHE_DIR
  value: /cache
- name: HF_HOME
  value: /cache/huggingface
- name: XDG_CACHE_HOME
  value: /tmp/.cache
- name: HOME
  value: /tmp
{{- range list "MODELPORT_TORCH_THREADS" "OMP_NUM_THREADS" }}
- name: {{ . }}
{{- if gt (int $.torchThreads) 0 }}
  value: {{ $.torchThreads | quote }}
{{- else }}
  valueFrom:
    resourceFieldRef:
      resource: limits.cpu
      divisor: "1"
{{- end }}
{{- end }}
- name: OMP_WAIT_POLICY
  value: PASSIVE
- name: HF_HUB_OFFLINE
  value: "1"
{{- end -}}

{{/* A backend container's resources: GPUs added from gpu.count, and for GPU pods with
guaranteedQoS the CPU and memory requests raised to their limits. Args: b, gpu. */}}
{{- define "modelport.backendResources" -}}
{{- $b := .b -}}
{{- $resources := deepCopy $b.resources -}}
{{- $limits := default dict $resources.limits -}}
{{- $requests := default dict $resources.requests -}}
{{- if .gpu -}}
{{- $_ := set $limits $b.gpu.resourceName (int $b.gpu.count) -}}
{{- $_ := set $requests $b.gpu.resourceName (int $b.gpu.count) -}}
{{- if $b.gpu.guaranteedQoS -}}
{{- range list "cpu" "memory" -}}
{{- if hasKey $limits . -}}
{{- $_ := set $requests . (index $limits .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $limits }}{{ $_ := set $resources "limits" $limits }}{{ end -}}
{{- if $requests }}{{ $_ := set $resources "requests" $requests }}{{ end -}}
{{- toYaml $resources -}}
{{- end -}}

{{/* Egress every pod needs when networkPolicy.egress is on: DNS, the OTLP collector,
the extra rules. */}}
{{- define "modelport.commonEgress" -}}
{{- $egress := .Values.networkPolicy.egress -}}
- to:
    {{- toYaml $egress.dnsTo | nindent 4 }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- if .Values.observability.otlpEndpoint }}
- ports:
    - port: {{ $egress.otlpPort }}
      protocol: TCP
  {{- with $egress.otlpTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- with $egress.extraRules }}
{{ toYaml . }}
{{- end }}
{{- end -}}

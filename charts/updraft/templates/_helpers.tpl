{{/* The name prefix of every object. */}}
{{- define "updraft.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "updraft.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Object names per component (Deployment, ServiceAccount, roles). */}}
{{- define "updraft.interceptor.name" -}}{{ include "updraft.fullname" . | trunc 51 | trimSuffix "-" }}-interceptor{{- end -}}
{{- define "updraft.scaler.name" -}}{{ include "updraft.fullname" . | trunc 56 | trimSuffix "-" }}-scaler{{- end -}}
{{- define "updraft.operator.name" -}}{{ include "updraft.fullname" . | trunc 54 | trimSuffix "-" }}-operator{{- end -}}

{{/* Service names: the add-on's with addOnCompatibleNames. */}}
{{- define "updraft.interceptor.proxyService" -}}
{{- if .Values.addOnCompatibleNames -}}keda-add-ons-http-interceptor-proxy{{- else -}}{{ include "updraft.fullname" . | trunc 45 | trimSuffix "-" }}-interceptor-proxy{{- end -}}
{{- end -}}
{{- define "updraft.interceptor.adminService" -}}
{{- if .Values.addOnCompatibleNames -}}keda-add-ons-http-interceptor-admin{{- else -}}{{ include "updraft.fullname" . | trunc 45 | trimSuffix "-" }}-interceptor-admin{{- end -}}
{{- end -}}
{{- define "updraft.interceptor.metricsService" -}}{{ include "updraft.fullname" . | trunc 43 | trimSuffix "-" }}-interceptor-metrics{{- end -}}
{{- define "updraft.scaler.service" -}}
{{- if .Values.addOnCompatibleNames -}}keda-add-ons-http-external-scaler{{- else -}}{{ include "updraft.fullname" . | trunc 47 | trimSuffix "-" }}-external-scaler{{- end -}}
{{- end -}}
{{- define "updraft.scaler.metricsService" -}}{{ include "updraft.fullname" . | trunc 48 | trimSuffix "-" }}-scaler-metrics{{- end -}}
{{- define "updraft.operator.metricsService" -}}{{ include "updraft.fullname" . | trunc 46 | trimSuffix "-" }}-operator-metrics{{- end -}}

{{/* Labels: common, then per component (the selector labels never change between upgrades). */}}
{{- define "updraft.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "updraft.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: updraft
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Usage: include "updraft.selectorLabels" (list . "interceptor") */}}
{{- define "updraft.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "updraft.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "updraft.componentLabels" -}}
{{ include "updraft.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* Usage: include "updraft.image" (list . .Values.interceptor.image) */}}
{{- define "updraft.image" -}}
{{- $root := index . 0 -}}
{{- $image := index . 1 -}}
{{- $tag := default $root.Chart.AppVersion (default $root.Values.image.tag $image.tag) -}}
{{- if $root.Values.image.registry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" $root.Values.image.registry) $image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" $image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* What every pod spec shares: pull secrets, the security context, the /tmp volume. */}}
{{- define "updraft.podCommon" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "updraft.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end -}}

{{/* Environment every container shares: the temp directory and no diagnostics IPC in the read-only image. */}}
{{- define "updraft.commonEnv" -}}
- name: TMPDIR
  value: /tmp
- name: DOTNET_EnableDiagnostics
  value: "0"
{{- end -}}

{{/* Usage: include "updraft.scheduling" .Values.interceptor */}}
{{- define "updraft.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The PodDisruptionBudget API the cluster serves (policy/v1 from 1.21). */}}
{{- define "updraft.pdbApiVersion" -}}
{{- if semverCompare ">=1.21.0-0" .Capabilities.KubeVersion.Version -}}policy/v1{{- else -}}policy/v1beta1{{- end -}}
{{- end -}}

{{/* gRPC probes need Kubernetes 1.24 (beta, on by default); older clusters get a TCP probe instead. */}}
{{- define "updraft.grpcProbes" -}}
{{- semverCompare ">=1.24.0-0" .Capabilities.KubeVersion.Version -}}
{{- end -}}

{{/* A Go duration (1h30m, 500ms, 2.5s) in whole seconds, rounded up. */}}
{{- define "updraft.durationSeconds" -}}
{{- $total := 0.0 -}}
{{- range regexFindAll "[0-9]+(\\.[0-9]*)?(ns|us|µs|ms|s|m|h)" . -1 -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]*)?" . | float64 -}}
{{- $unit := trimPrefix (regexFind "^[0-9]+(\\.[0-9]*)?" .) . -}}
{{- $scale := dict "ns" 0.000000001 "us" 0.000001 "µs" 0.000001 "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 -}}
{{- $total = addf $total (mulf $number (get $scale $unit)) -}}
{{- end -}}
{{- ceil $total | int -}}
{{- end -}}

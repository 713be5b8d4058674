{{/* Chart name, overridable. */}}
{{- define "ecnow-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name, cut to 63 characters (DNS label limit).
The release name is used alone when it already contains the chart name.
*/}}
{{- define "ecnow-gateway.fullname" -}}
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

{{/* Chart name and version, for the helm.sh/chart label. */}}
{{- define "ecnow-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Common labels. */}}
{{- define "ecnow-gateway.labels" -}}
helm.sh/chart: {{ include "ecnow-gateway.chart" . }}
{{ include "ecnow-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels: immutable on a Deployment, so nothing that changes between releases. */}}
{{- define "ecnow-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ecnow-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* ServiceAccount name. */}}
{{- define "ecnow-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ecnow-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Name of the existing Secret holding the credentials; defaults to the fullname. */}}
{{- define "ecnow-gateway.secretName" -}}
{{- default (include "ecnow-gateway.fullname" .) .Values.existingSecret.name }}
{{- end }}

{{/* Image reference: a digest, when given, wins over the tag. */}}
{{- define "ecnow-gateway.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Where the PEM public key comes from: "inline" (auth.publicKeyPem, in a ConfigMap of this chart),
"secret" or "configMap" (auth.publicKeyFrom, an existing object), or "" for none.
*/}}
{{- define "ecnow-gateway.publicKeySource" -}}
{{- if .Values.auth.publicKeyPem }}inline
{{- else if .Values.auth.publicKeyFrom.secretName }}secret
{{- else if .Values.auth.publicKeyFrom.configMapName }}configMap
{{- end }}
{{- end }}

{{/* Name of the Secret holding GATEWAY_IDEMPOTENCY_REDIS_URL; defaults to the credentials Secret. */}}
{{- define "ecnow-gateway.redisSecretName" -}}
{{- default (include "ecnow-gateway.secretName" .) .Values.idempotency.redis.existingSecret.name }}
{{- end }}

{{/*
Cross-field rules the schema cannot express (or cannot explain well). `fail` stops helm
template/install/upgrade; helm lint only logs it.
*/}}
{{- define "ecnow-gateway.validate" -}}
{{- $auth := .Values.auth }}
{{- if not (or .Values.existingSecret.jwtHs256SecretKey $auth.publicKeyPem $auth.publicKeyFrom.secretName $auth.publicKeyFrom.configMapName $auth.jwksUrl) }}
{{- fail "no JWT key source: set existingSecret.jwtHs256SecretKey, auth.publicKeyPem, auth.publicKeyFrom or auth.jwksUrl (the gateway refuses to start without one)" }}
{{- end }}
{{- $pem := 0 }}
{{- range (list $auth.publicKeyPem $auth.publicKeyFrom.secretName $auth.publicKeyFrom.configMapName) }}
{{- if . }}{{ $pem = add1 $pem }}{{ end }}
{{- end }}
{{- if gt $pem 1 }}
{{- fail "auth.publicKeyPem, auth.publicKeyFrom.secretName and auth.publicKeyFrom.configMapName: set at most one (the gateway reads one PEM file)" }}
{{- end }}
{{- end }}

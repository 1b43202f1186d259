{{/* Names, labels, images and the GAS_* environment of each service. */}}

{{- define "gas.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gas.fullname" -}}
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

{{/* The HTTP port of a service (its settings.port): (dict "root" $ "service" "jobs") */}}
{{- define "gas.port" -}}
{{- include "gas.envValue" (get .root.Values .service).settings.port -}}
{{- end -}}

{{/* The gateway's internal API port (settings.internalPort): served on the Service, never by the Ingress. */}}
{{- define "gas.gatewayInternalPort" -}}
{{- include "gas.envValue" .Values.gateway.settings.internalPort -}}
{{- end -}}

{{/* The URL the notifier and archiver reach the gateway's internal API at. */}}
{{- define "gas.gatewayInternalUrl" -}}
{{- printf "http://%s:%s" (include "gas.componentName" (dict "root" . "service" "gateway")) (include "gas.gatewayInternalPort" .) -}}
{{- end -}}

{{/* The URL other pods reach a service at: (dict "root" $ "service" "jobs") */}}
{{- define "gas.url" -}}
{{- printf "http://%s:%s" (include "gas.componentName" .) (include "gas.port" .) -}}
{{- end -}}

{{/* "<fullname>-<service>"; call with (dict "root" $ "service" "jobs") */}}
{{- define "gas.componentName" -}}
{{- printf "%s-%s" (include "gas.fullname" .root | trunc 52 | trimSuffix "-") .service -}}
{{- end -}}

{{- define "gas.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "gas.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gas
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* call with (dict "root" $ "service" "jobs") */}}
{{- define "gas.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gas.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .service }}
{{- end -}}

{{- define "gas.componentLabels" -}}
{{ include "gas.labels" .root }}
app.kubernetes.io/component: {{ .service }}
{{- end -}}

{{/* call with (dict "root" $ "service" "jobs") */}}
{{- define "gas.image" -}}
{{- $img := .root.Values.image -}}
{{- $own := (get .root.Values .service).image -}}
{{- if $own -}}
{{- $own -}}
{{- else -}}
{{- $repo := printf "%s%s" $img.repositoryPrefix .service -}}
{{- if $img.registry }}{{ $repo = printf "%s/%s" (trimSuffix "/" $img.registry) $repo }}{{ end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* One setting value as an env string: maps and lists as JSON, whole numbers without exponent. */}}
{{- define "gas.envValue" -}}
{{- $v := . -}}
{{- if or (kindIs "map" $v) (kindIs "slice" $v) -}}
{{- toJson $v -}}
{{- else if kindIs "float64" $v -}}
{{- if eq $v (floor $v) }}{{ int64 $v }}{{ else }}{{ $v }}{{ end -}}
{{- else -}}
{{- toString $v -}}
{{- end -}}
{{- end -}}

{{/* A Secret key reference into secrets.existingSecret. (dict "root" $ "key" "...") */}}
{{- define "gas.secretRef" -}}
valueFrom:
  secretKeyRef:
    name: {{ required "secrets.existingSecret is required: the Secret holding the internal JWT secret, the OIDC client secret and the database URL" .root.Values.secrets.existingSecret }}
    key: {{ .key }}
{{- end -}}

{{/* The shared GAS_* settings every service reads (gas_core.settings). */}}
{{- define "gas.sharedEnv" -}}
{{- $c := .Values.config -}}
- name: GAS_ENVIRONMENT
  value: {{ $c.environment | quote }}
- name: GAS_PREFIX
  value: {{ $c.prefix | quote }}
- name: GAS_SES_SENDER
  value: {{ $c.sesSender | quote }}
- name: GAS_FREE_SIZE_LIMIT_BYTES
  value: {{ include "gas.envValue" $c.freeSizeLimitBytes | quote }}
- name: GAS_FREE_WINDOW_SECONDS
  value: {{ include "gas.envValue" $c.freeWindowSeconds | quote }}
- name: GAS_INTERNAL_JWT_SECRET
  {{- include "gas.secretRef" (dict "root" . "key" .Values.secrets.internalJwtSecretKey) | nindent 2 }}
- name: GAS_AWS_REGION
  value: {{ $c.aws.region | quote }}
- name: GAS_AWS_S3_PATH_STYLE
  value: {{ $c.aws.s3PathStyle | quote }}
{{- with $c.aws.endpointUrl }}
- name: GAS_AWS_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- with $c.aws.credentialsSecret }}
- name: GAS_AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.secrets.awsAccessKeyIdKey }}
- name: GAS_AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.secrets.awsSecretAccessKeyKey }}
{{- end }}
{{- end -}}

{{/* The full environment of one service: shared settings, its own GAS_<SERVICE>_* settings
     from <service>.settings, the addresses of the services it calls, its secrets, extraEnv.
     call with (dict "root" $ "service" "jobs") */}}
{{- define "gas.serviceEnv" -}}
{{- $root := .root -}}
{{- $svc := .service -}}
{{- $values := get $root.Values $svc -}}
{{- $prefix := printf "GAS_%s_" (upper $svc) -}}
{{- include "gas.sharedEnv" $root }}
- name: {{ $prefix }}HOST
  value: "0.0.0.0"
- name: {{ $prefix }}LOG_LEVEL
  value: {{ default $root.Values.config.logLevel $values.settings.logLevel | quote }}
{{- range $key, $value := $values.settings }}
{{- if and (ne $key "logLevel") (not (kindIs "invalid" $value)) (ne (toString $value) "") (not (and (kindIs "slice" $value) (eq (len $value) 0))) }}
- name: {{ printf "%s%s" $prefix (snakecase $key | upper) }}
  value: {{ include "gas.envValue" $value | quote }}
{{- end }}
{{- end }}
{{- if eq $svc "gateway" }}
- name: GAS_GATEWAY_PUBLIC_URL
  value: {{ $values.publicUrl | quote }}
{{- if not $values.settings.jobsUrl }}
- name: GAS_GATEWAY_JOBS_URL
  value: {{ include "gas.url" (dict "root" $root "service" "jobs") | quote }}
{{- end }}
- name: GAS_GATEWAY_OIDC_CLIENT_SECRET
  {{- include "gas.secretRef" (dict "root" $root "key" $root.Values.secrets.oidcClientSecretKey) | nindent 2 }}
- name: DATABASE_URL
  {{- include "gas.secretRef" (dict "root" $root "key" $root.Values.secrets.databaseUrlKey) | nindent 2 }}
{{- else if eq $svc "annotator" }}
- name: GAS_ANNOTATOR_WORK_DIR
  value: /var/tmp/gas-jobs
- name: GAS_ANNOTATOR_BUNDLE_CACHE_DIR
  value: /var/cache/anntools
{{- else if or (eq $svc "notifier") (eq $svc "archiver") }}
{{- if not $values.settings.gatewayUrl }}
- name: {{ $prefix }}GATEWAY_URL
  value: {{ include "gas.gatewayInternalUrl" $root | quote }}
{{- end }}
{{- if and (eq $svc "notifier") (not $values.settings.publicUrl) }}
- name: GAS_NOTIFIER_PUBLIC_URL
  value: {{ $root.Values.gateway.publicUrl | quote }}
{{- end }}
{{- end }}
{{- with $root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with $values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* SQS queue URL KEDA watches: (dict "root" $ "queue" "annotator" "override" "...") */}}
{{- define "gas.queueUrl" -}}
{{- if .override -}}
{{- .override -}}
{{- else -}}
{{- $aws := .root.Values.config.aws -}}
{{- if $aws.endpointUrl -}}
{{- printf "%s/%s/%s-%s" (trimSuffix "/" $aws.endpointUrl) $aws.accountId .root.Values.config.prefix .queue -}}
{{- else -}}
{{- printf "https://sqs.%s.amazonaws.com/%s/%s-%s" $aws.region $aws.accountId .root.Values.config.prefix .queue -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "gas.annotatorGrace" -}}
{{- $a := .Values.annotator -}}
{{- if kindIs "invalid" $a.terminationGracePeriodSeconds -}}
{{- add (int64 $a.settings.stopGraceSeconds) (int64 $a.settings.receiveWaitSeconds) 15 -}}
{{- else -}}
{{- int64 $a.terminationGracePeriodSeconds -}}
{{- end -}}
{{- end -}}

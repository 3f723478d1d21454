{{/*
The spec's cluster section, and the objects' common labels. Every default
below is gatewatch's (internal/spec/defaults.go); the chart-vs-render test
holds them equal.
*/}}
{{- define "gatewatch.cluster" -}}
{{- toYaml (.Values.spec.cluster | default dict) -}}
{{- end -}}

{{- define "gatewatch.labels" -}}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/name: gatewatch
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "gatewatch.selectorLabels" -}}
app.kubernetes.io/name: gatewatch
{{- end -}}

{{- define "gatewatch.secretName" -}}
{{- $c := fromYaml (include "gatewatch.cluster" .) -}}
{{- (($c.alertmanager | default dict).secret_name) | default "gatewatch-mattermost" -}}
{{- end -}}

{{- define "gatewatch.image" -}}
{{- $c := fromYaml (include "gatewatch.cluster" .) -}}
{{- $c.image | default (printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion)) -}}
{{- end -}}

{{/* The namespaces whose gateway pods gatewatch discovers (gateways with a selector). */}}
{{- define "gatewatch.gatewayNamespaces" -}}
{{- $out := list -}}
{{- range .Values.spec.gateways -}}
{{- if and .selector (not (has .namespace $out)) -}}{{- $out = append $out .namespace -}}{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The deployed spec: the user's, with the Secret's mount paths. */}}
{{- define "gatewatch.deployedSpec" -}}
{{- $s := deepCopy .Values.spec -}}
{{- $m := $s.mattermost | default dict -}}
{{- if or $m.bot_token $m.bot_token_file $m.url -}}
{{- $_ := unset $m "bot_token" -}}
{{- $_ := set $m "bot_token_file" "/etc/gatewatch/secrets/bot-token" -}}
{{- if $m.actions_secret_file -}}{{- $_ := set $m "actions_secret_file" "/etc/gatewatch/secrets/actions-secret" -}}{{- end -}}
{{- else -}}
{{- $_ := unset $m "webhook_url" -}}
{{- $_ := set $m "webhook_url_file" "/etc/gatewatch/secrets/webhook-url" -}}
{{- end -}}
{{- $_ := set $s "mattermost" $m -}}
{{- $c := $s.cluster | default dict -}}
{{- if not $c.monitoring_namespace -}}{{- $_ := set $c "monitoring_namespace" .Release.Namespace -}}{{- end -}}
{{- $_ := set $s "cluster" $c -}}
{{- toYaml $s -}}
{{- end -}}

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

{{/*
A kubectl-style label selector ("app=a,tier in (x,y),!canary") as the
LabelSelector render's metav1.ParseToLabelSelector makes of it: equality
terms in matchLabels; in, notin, !=, key and !key in matchExpressions,
sorted by key, their values sorted. "" selects every pod.
*/}}
{{- define "gatewatch.labelSelector" -}}
{{- $sel := . | default "" | trim -}}
{{- if eq $sel "" -}}
{}
{{- else -}}
{{- $labels := dict -}}
{{- $exprs := list -}}
{{- range $term := regexFindAll `[^,()]+(\([^)]*\))?` $sel -1 -}}
{{- $t := trim $term -}}
{{- if regexMatch `^[A-Za-z0-9_./-]+\s+(in|notin)\s*\(.*\)$` $t -}}
{{- $key := regexReplaceAll `^([A-Za-z0-9_./-]+)\s+.*$` $t "${1}" -}}
{{- $op := ternary "In" "NotIn" (regexMatch `^[A-Za-z0-9_./-]+\s+in\s*\(` $t) -}}
{{- $vals := list -}}
{{- range splitList "," (regexReplaceAll `^.*\((.*)\)$` $t "${1}") }}{{ $vals = append $vals (trim .) }}{{ end -}}
{{- $exprs = append $exprs (dict "key" $key "operator" $op "values" (sortAlpha (uniq $vals))) -}}
{{- else if regexMatch `^!\s*[A-Za-z0-9_./-]+$` $t -}}
{{- $exprs = append $exprs (dict "key" (trim (trimPrefix "!" $t)) "operator" "DoesNotExist") -}}
{{- else if regexMatch `^[A-Za-z0-9_./-]+\s*!=\s*.*$` $t -}}
{{- $kv := regexSplit `\s*!=\s*` $t 2 -}}
{{- $exprs = append $exprs (dict "key" (index $kv 0) "operator" "NotIn" "values" (list (index $kv 1))) -}}
{{- else if regexMatch `^[A-Za-z0-9_./-]+\s*==?\s*.*$` $t -}}
{{- $kv := regexSplit `\s*==?\s*` $t 2 -}}
{{- $_ := set $labels (index $kv 0) (index $kv 1) -}}
{{- else if regexMatch "^[A-Za-z0-9_./-]+$" $t -}}
{{- $exprs = append $exprs (dict "key" $t "operator" "Exists") -}}
{{- else -}}
{{- fail (printf "selector %q: cannot read %q" $sel $t) -}}
{{- end -}}
{{- end -}}
{{- $sorted := list -}}
{{- $keys := list -}}
{{- range $exprs }}{{ $keys = append $keys .key }}{{ end -}}
{{- range $k := sortAlpha (uniq $keys) -}}
{{- range $exprs }}{{ if eq .key $k }}{{ $sorted = append $sorted . }}{{ end }}{{ end -}}
{{- end -}}
{{- with $sorted }}
matchExpressions:
{{- toYaml . | nindent 0 }}
{{- end }}
{{- with $labels }}
matchLabels:
{{- range $k, $v := . }}
  {{ $k }}: {{ $v | quote }}
{{- end }}
{{- end }}
{{- end -}}
{{- end -}}

{{- define "gatewatch.nsSelector" -}}
matchLabels:
  kubernetes.io/metadata.name: {{ . }}
{{- end -}}

{{/* The NetworkPolicy's metadata. Args: root, name, namespace. */}}
{{- define "gatewatch.netpolMeta" -}}
metadata:
  name: {{ .name }}
  namespace: {{ .namespace }}
  labels:
    {{- include "gatewatch.labels" .root | nindent 4 }}
{{- end -}}

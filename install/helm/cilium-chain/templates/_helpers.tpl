{{/* The image reference: the digest wins over the tag. */}}
{{- define "cilium-chain.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
{{- end -}}

{{/* The options of our conflist entry that are no flag of their own, as one JSON object. */}}
{{- define "cilium-chain.pluginExtraJSON" -}}
{{- $extra := deepCopy .Values.plugin.extraJSON -}}
{{- range $key, $val := dict "add-timeout" .Values.plugin.addTimeout "del-timeout" .Values.plugin.delTimeout "check-timeout" .Values.plugin.checkTimeout -}}
{{- if $val }}{{ $_ := set $extra $key $val }}{{ end -}}
{{- end -}}
{{- if $extra }}{{ toJson $extra }}{{ end -}}
{{- end -}}

{{- define "cilium-chain.argsLabels" -}}
{{- $pairs := list -}}
{{- range $name, $key := .Values.plugin.argsLabels }}{{ $pairs = append $pairs (printf "%s=%s" $name $key) }}{{ end -}}
{{- join "," $pairs -}}
{{- end -}}

{{/* "yes" when the node's labels satisfy nodeSelector (dict "node" <Node> "selector" <map>). */}}
{{- define "cilium-chain.nodeSelected" -}}
{{- $labels := default dict .node.metadata.labels -}}
{{- $ok := true -}}
{{- range $k, $v := .selector }}{{ if ne (toString (get $labels $k)) (toString $v) }}{{ $ok = false }}{{ end }}{{ end -}}
{{- if $ok }}yes{{ end -}}
{{- end -}}

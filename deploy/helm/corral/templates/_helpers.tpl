{{- define "corral.name" -}}{{ .Release.Name }}-corral{{- end -}}
{{- define "corral.secret" -}}{{ .Values.existingSecret | default (printf "%s-secrets" (include "corral.name" .)) }}{{- end -}}
{{- define "corral.labels" -}}
app.kubernetes.io/name: corral
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mamori.name" -}}mamori-admission{{- end -}}
{{- define "mamori.service" -}}{{ include "mamori.name" . }}.{{ .Release.Namespace }}.svc{{- end -}}
{{- define "mamori.labels" -}}
app.kubernetes.io/name: {{ include "mamori.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "mamori.bypass" -}}
{{- toJson (append .Values.bypassNamespaces .Release.Namespace) -}}
{{- end -}}

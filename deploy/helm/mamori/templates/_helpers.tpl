{{- define "mamori.image" -}}"{{ .Values.image.repository }}:{{ .Values.image.tag }}"{{- end -}}
{{- define "mamori.tokenSecret" -}}
{{- if .Values.adminToken.existingSecret }}{{ .Values.adminToken.existingSecret }}{{ else }}mamori-console-token{{ end -}}
{{- end -}}
{{- define "mamori.console.labels" -}}
app.kubernetes.io/name: mamori-console
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "mamori.sensor.labels" -}}
app.kubernetes.io/name: mamori-sensor
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- /* Where the sensor sends alerts: the console's Service, or sensor.consoleUrl. */ -}}
{{- define "mamori.sensor.consoleUrl" -}}
{{- if .Values.sensor.consoleUrl -}}
{{ .Values.sensor.consoleUrl }}
{{- else if .Values.console.enabled -}}
http://mamori-console.{{ .Release.Namespace }}.svc:7777/api/v1/events
{{- end -}}
{{- end -}}

{{- define "ticketpulse.labels" -}}
app.kubernetes.io/name: ticketpulse
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "ticketpulse.selector" -}}
app.kubernetes.io/name: ticketpulse
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ticketpulse.secret" -}}
{{- if .Values.kafkaSasl.existingSecret -}}{{ .Values.kafkaSasl.existingSecret }}{{- else -}}{{ .Release.Name }}-ticketpulse-kafka{{- end -}}
{{- end -}}

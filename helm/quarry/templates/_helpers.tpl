{{- define "quarry.fullname" -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "quarry.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "quarry.labels" -}}
app.kubernetes.io/name: quarry
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "quarry.configSecret" -}}
{{- .Values.config.existingSecret | default (printf "%s-config" (include "quarry.fullname" .)) -}}
{{- end -}}

{{/* Pod-level settings every Quarry pod shares. */}}
{{- define "quarry.podSpec" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* Environment every Quarry process reads: the platform's connections, never a tenant's. */}}
{{- define "quarry.env" -}}
- name: DATABASE_URL
  valueFrom: {secretKeyRef: {name: {{ include "quarry.configSecret" . }}, key: DATABASE_URL}}
- name: AMQP_URL
  valueFrom: {secretKeyRef: {name: {{ include "quarry.configSecret" . }}, key: AMQP_URL}}
- {name: QUARRY_QUEUE_PREFIX, value: {{ .Values.config.queuePrefix | quote }}}
- {name: QUARRY_LOG_FORMAT, value: {{ .Values.config.logFormat | quote }}}
- {name: QUARRY_DATA_DIR, value: /tmp/quarry}
{{- end -}}

{{- define "memproxy.name" -}}
{{- if eq .Values.mode "sidecar" }}{{ .Values.app.name }}{{ else }}{{ .Release.Name }}-memproxy{{ end }}
{{- end }}

{{- define "memproxy.labels" -}}
app.kubernetes.io/name: memproxy
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{- define "memproxy.restricted" -}}
runAsNonRoot: true
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities: {drop: [ALL]}
seccompProfile: {type: RuntimeDefault}
{{- end }}

{{- define "memproxy.podSecurity" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile: {type: RuntimeDefault}
{{- end }}

{{- define "memproxy.secretEnv" -}}
{{- $secret := .Values.existingSecret }}
{{- range $name, $key := dict "MEMPROXY_UPSTREAM_API_KEY" .Values.secretKeys.upstreamAPIKey "MEMPROXY_API_KEYS" .Values.secretKeys.memoryAPIKeys "MEMPROXY_CLIENT_KEYS" .Values.secretKeys.clientKeys }}
{{- if $key }}
- name: {{ $name }}
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: {{ $key }}}}
{{- end }}
{{- end }}
{{- end }}

{{/* The memproxy container; listen is where chats are served. */}}
{{- define "memproxy.container" -}}
{{- $tag := required "image.tag must be set: pin the release you run" .root.Values.image.tag }}
{{- if eq $tag "latest" }}{{ fail "image.tag: pin a release, not latest" }}{{ end }}
- name: memproxy
  image: "{{ .root.Values.image.repository }}:{{ $tag }}"
  imagePullPolicy: {{ .root.Values.image.pullPolicy }}
  {{- if .sidecar }}
  restartPolicy: Always
  {{- end }}
  env:
    - {name: MEMPROXY_LISTEN, value: {{ .listen | quote }}}
    - {name: MEMPROXY_OPS_LISTEN, value: "0.0.0.0:8081"}
    - {name: MEMPROXY_DATA_DIR, value: /data}
    - {name: MEMPROXY_UPSTREAM_URL, value: {{ .root.Values.upstream.url | quote }}}
    - {name: MEMPROXY_STORE, value: {{ .root.Values.store.kind | quote }}}
    {{- if eq .root.Values.store.kind "milvus" }}
    - {name: MEMPROXY_MILVUS_ADDRESS, value: {{ .root.Values.store.milvusAddress | quote }}}
    {{- end }}
    - {name: MEMPROXY_POLICY_FILE, value: /etc/memproxy/policies.yaml}
    - {name: MEMPROXY_LOG_FORMAT, value: json}
    {{- include "memproxy.secretEnv" .root | nindent 4 }}
    {{- with .root.Values.env }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    {{- if not .sidecar }}
    - {name: http, containerPort: 8080}
    {{- end }}
    - {name: ops, containerPort: 8081}
  startupProbe:
    httpGet: {path: /healthz, port: ops}
    periodSeconds: 1
    failureThreshold: 60
  livenessProbe:
    httpGet: {path: /healthz, port: ops}
    periodSeconds: 10
  readinessProbe:
    # 200 while memory is degraded: chat fails open, the pod stays in service.
    httpGet: {path: /readyz, port: ops}
    periodSeconds: 5
  resources:
    {{- toYaml .root.Values.resources | nindent 4 }}
  securityContext:
    {{- include "memproxy.restricted" . | nindent 4 }}
  volumeMounts:
    - {name: data, mountPath: /data}
    - {name: policies, mountPath: /etc/memproxy, readOnly: true}
{{- end }}

{{- define "memproxy.volumes" -}}
- name: data
  emptyDir: {sizeLimit: {{ .Values.data.sizeLimit }}}
- name: policies
  configMap: {name: {{ .Release.Name }}-memproxy-policies}
{{- end }}

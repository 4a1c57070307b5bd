{{- define "mamori.webhook.common" -}}
admissionReviewVersions: ["v1"]
sideEffects: None
timeoutSeconds: {{ .ctx.Values.webhook.timeoutSeconds }}
matchPolicy: Equivalent
clientConfig:
  service:
    namespace: {{ .ctx.Release.Namespace }}
    name: {{ include "mamori.name" .ctx }}
    path: /validate
    port: 443
  caBundle: {{ .caBundle | quote }}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: {{ include "mamori.bypass" .ctx }}
    - key: {{ .ctx.Values.optOutLabel }}
      operator: DoesNotExist
{{- end -}}
{{- define "mamori.webhook" -}}
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: {{ include "mamori.name" .ctx }}
  labels: {{- include "mamori.labels" .ctx | nindent 4 }}
webhooks:
  - name: pods.admission.mamori.dev
    failurePolicy: {{ .ctx.Values.webhook.failurePolicy }}
    {{- include "mamori.webhook.common" . | nindent 4 }}
    rules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: [CREATE, UPDATE]
        resources: [pods, pods/ephemeralcontainers]
        scope: Namespaced
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: [CONNECT]
        resources: [pods/exec, pods/attach, pods/portforward]
        scope: Namespaced
  - name: workloads.admission.mamori.dev
    failurePolicy: Ignore
    {{- include "mamori.webhook.common" . | nindent 4 }}
    rules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: [CREATE, UPDATE]
        resources: [podtemplates, replicationcontrollers]
        scope: Namespaced
      - apiGroups: [apps]
        apiVersions: ["v1"]
        operations: [CREATE, UPDATE]
        resources: [deployments, replicasets, statefulsets, daemonsets]
        scope: Namespaced
      - apiGroups: [batch]
        apiVersions: ["v1"]
        operations: [CREATE, UPDATE]
        resources: [jobs, cronjobs]
        scope: Namespaced
{{- end -}}

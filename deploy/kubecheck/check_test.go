package main

import (
	"os"
	"strings"
	"testing"
)

// TestPlainExample checks deploy/kubernetes as CI does.
func TestPlainExample(t *testing.T) {
	data, err := os.ReadFile("../kubernetes/memproxy-sidecar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n, errs := Check(data)
	for _, e := range errs {
		t.Error(e)
	}
	if n != 3 {
		t.Errorf("%d objects, want the ConfigMap, Secret and Deployment", n)
	}
}

// TestCheckRefuses breaks the plain example one rule at a time: each must
// be caught, with a message that says which.
func TestCheckRefuses(t *testing.T) {
	data, err := os.ReadFile("../kubernetes/memproxy-sidecar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	good := string(data)
	cases := []struct{ name, old, new, want string }{
		{"unknown field", "          restartPolicy: Always\n", "          restartPolicy: Always\n          restartPolicies: Always\n", `unknown field "restartPolicies"`},
		{"not a native sidecar", "          restartPolicy: Always\n", "", "restartPolicy: Always"},
		{"capabilities kept", "capabilities: {drop: [ALL]}\n            seccompProfile: {type: RuntimeDefault}\n          volumeMounts", "seccompProfile: {type: RuntimeDefault}\n          volumeMounts", "container memproxy: capabilities do not drop ALL"},
		{"escalation", "allowPrivilegeEscalation: false\n            capabilities: {drop: [ALL]}\n            seccompProfile: {type: RuntimeDefault}\n          volumeMounts", "allowPrivilegeEscalation: true\n            capabilities: {drop: [ALL]}\n            seccompProfile: {type: RuntimeDefault}\n          volumeMounts", "allowPrivilegeEscalation is not false"},
		{"unpinned image", "registry.example/fitcoach-app:1.4.2", "registry.example/fitcoach-app:latest", "is not pinned"},
		{"untagged image", "registry.example/memproxy:v0.17.0", "registry.example/memproxy", "is not pinned"},
		{"writable root", "readOnlyRootFilesystem: true\n            allowPrivilegeEscalation: false\n            capabilities: {drop: [ALL]}\n            seccompProfile: {type: RuntimeDefault}\n          volumeMounts", "allowPrivilegeEscalation: false\n            capabilities: {drop: [ALL]}\n            seccompProfile: {type: RuntimeDefault}\n          volumeMounts", "readOnlyRootFilesystem"},
		{"no startup probe", "          startupProbe:\n            httpGet: {path: /healthz, port: ops}\n            periodSeconds: 1\n            failureThreshold: 60\n", "", "no startupProbe"},
		{"short grace", "terminationGracePeriodSeconds: 90", "terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds is under 60"},
		{"unconfined", "            seccompProfile: {type: RuntimeDefault}\n      volumes:", "            seccompProfile: {type: Unconfined}\n      volumes:", "container app: seccompProfile is not RuntimeDefault"},
		{"unknown kind", "kind: ConfigMap", "kind: ConfigMapp", "not one kubecheck knows"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(good, c.old) {
				t.Fatalf("the example no longer holds %q", c.old)
			}
			_, errs := Check([]byte(strings.Replace(good, c.old, c.new, 1)))
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
			if !strings.Contains(strings.Join(msgs, "\n"), c.want) {
				t.Errorf("errors %q, want one saying %q", msgs, c.want)
			}
		})
	}
}

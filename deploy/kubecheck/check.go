package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// MinGraceSeconds is the shortest termination grace period a pod running
// memproxy may have: memproxy's own shutdown takes up to 50 s
// (sidecar/sidecar.go: 30 s of open streams, 5 s of hand-off, the default
// learn.drain_timeout of 10 s, 5 s of span export), and some headroom.
const MinGraceSeconds = 60

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
}

// Check validates the YAML documents in data and returns how many objects
// they hold and what is wrong with them.
func Check(data []byte) (int, []error) {
	var errs []error
	n := 0
	for _, doc := range splitDocuments(data) {
		var tm typeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			errs = append(errs, fmt.Errorf("not YAML: %w", err))
			continue
		}
		if tm.Kind == "" {
			continue // an empty document, or only comments
		}
		n++
		name := tm.Kind + "/" + tm.Metadata.Name
		obj, err := newObject(tm.APIVersion, tm.Kind)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		if tm.Metadata.Name == "" {
			errs = append(errs, fmt.Errorf("%s: no metadata.name", name))
		}
		var pod *corev1.PodTemplateSpec
		switch o := obj.(type) {
		case *appsv1.Deployment:
			pod = &o.Spec.Template
		case *appsv1.StatefulSet:
			pod = &o.Spec.Template
		}
		if pod != nil {
			for _, e := range checkPod(&pod.Spec) {
				errs = append(errs, fmt.Errorf("%s: %w", name, e))
			}
		}
	}
	if n == 0 {
		errs = append(errs, errors.New("no Kubernetes objects"))
	}
	return n, errs
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range docSep.Split(string(data), -1) {
		if strings.TrimSpace(d) != "" {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + " " + kind {
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1 Secret":
		return &corev1.Secret{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "v1 PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, nil
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, nil
	case "apps/v1 StatefulSet":
		return &appsv1.StatefulSet{}, nil
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "networking.k8s.io/v1 NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, nil
	}
	return nil, fmt.Errorf("kind %s %s is not one kubecheck knows", apiVersion, kind)
}

// checkPod holds a pod to the restricted profile and memproxy's rules.
func checkPod(spec *corev1.PodSpec) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		bad("the pod shares a host namespace")
	}
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			bad("volume %s is a hostPath", v.Name)
		}
	}
	memproxy := 0
	all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for i, c := range all {
		where := "container " + c.Name
		sc := c.SecurityContext
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		if !isTrue(sc.RunAsNonRoot) && !isTrue(psc.RunAsNonRoot) {
			bad("%s: runAsNonRoot is not true", where)
		}
		if (sc.RunAsUser != nil && *sc.RunAsUser == 0) || (sc.RunAsUser == nil && psc.RunAsUser != nil && *psc.RunAsUser == 0) {
			bad("%s: runs as uid 0", where)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			bad("%s: allowPrivilegeEscalation is not false", where)
		}
		if isTrue(sc.Privileged) {
			bad("%s: is privileged", where)
		}
		if sc.Capabilities == nil || !dropsAll(sc.Capabilities.Drop) {
			bad("%s: capabilities do not drop ALL", where)
		} else {
			for _, a := range sc.Capabilities.Add {
				if a != "NET_BIND_SERVICE" {
					bad("%s: adds capability %s", where, a)
				}
			}
		}
		seccomp := psc.SeccompProfile
		if sc.SeccompProfile != nil {
			seccomp = sc.SeccompProfile
		}
		if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
			bad("%s: seccompProfile is not RuntimeDefault", where)
		}
		if !pinned(c.Image) {
			bad("%s: image %q is not pinned to a tag or digest", where, c.Image)
		}
		if !strings.Contains(c.Image, "memproxy") {
			continue
		}
		memproxy++
		if !isTrue(sc.ReadOnlyRootFilesystem) {
			bad("%s: readOnlyRootFilesystem is not true", where)
		}
		if c.StartupProbe == nil || c.StartupProbe.HTTPGet == nil ||
			(c.StartupProbe.HTTPGet.Path != "/healthz" && c.StartupProbe.HTTPGet.Path != "/readyz") {
			bad("%s: no startupProbe on /healthz or /readyz", where)
		}
		if !mounts(c, "/data") && !hasEnv(c, "MEMPROXY_DATA_DIR") {
			bad("%s: no writable data directory mounted (the root filesystem is read-only)", where)
		}
		if i < len(spec.InitContainers) && (c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways) {
			bad("%s: an init container without restartPolicy: Always is not a sidecar: it would block the app", where)
		}
	}
	if memproxy == 0 {
		bad("no memproxy container")
	}
	if g := spec.TerminationGracePeriodSeconds; g == nil || *g < MinGraceSeconds {
		bad("terminationGracePeriodSeconds is under %d: memproxy's own shutdown takes up to 50 s", MinGraceSeconds)
	}
	return errs
}

func isTrue(b *bool) bool { return b != nil && *b }

func dropsAll(caps []corev1.Capability) bool {
	for _, c := range caps {
		if c == "ALL" {
			return true
		}
	}
	return false
}

// pinned reports whether an image names a tag other than latest, or a
// digest.
func pinned(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		return false // no tag: the registry's latest
	}
	tag := image[i+1:]
	return tag != "" && tag != "latest" && !strings.Contains(tag, "{")
}

func mounts(c corev1.Container, path string) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath == path && !m.ReadOnly {
			return true
		}
	}
	return false
}

func hasEnv(c corev1.Container, name string) bool {
	for _, e := range c.Env {
		if e.Name == name {
			for _, m := range c.VolumeMounts {
				if m.MountPath == e.Value && !m.ReadOnly {
					return true
				}
			}
		}
	}
	return false
}

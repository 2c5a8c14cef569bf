// Command kubecheck validates Kubernetes manifests offline: each document
// is decoded strictly into its k8s.io/api type (an unknown or misspelt
// field is an error, as with kubeconform -strict, but with no schemas to
// download), and every pod template is held to the Pod Security
// "restricted" profile and to memproxy's own rules: pinned images, a
// startupProbe on memproxy, and a grace period with headroom over its
// shutdown.
//
//	helm template deploy/helm/memproxy | go run ./deploy/kubecheck -
//	go run ./deploy/kubecheck deploy/kubernetes/*.yaml
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kubecheck FILE... (- for standard input)")
		os.Exit(2)
	}
	failed := false
	for _, name := range os.Args[1:] {
		var data []byte
		var err error
		if name == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(name)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "kubecheck: %v\n", err)
			os.Exit(2)
		}
		n, errs := Check(data)
		for _, e := range errs {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, e)
		}
		if len(errs) > 0 {
			failed = true
			continue
		}
		fmt.Printf("%s: %d objects valid\n", name, n)
	}
	if failed {
		os.Exit(1)
	}
}

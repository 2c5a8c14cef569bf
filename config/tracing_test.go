package config

import (
	"strings"
	"testing"
)

func TestLoadTracing(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		enabled bool
		check   func(Tracing) bool
		err     string
	}{
		{name: "off by default", env: nil, enabled: false},
		{name: "an endpoint turns it on, over http/protobuf", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, enabled: true,
			check: func(t Tracing) bool {
				return t.Protocol == "http/protobuf" && t.EndpointIsBase && t.ServiceName == "memproxy"
			}},
		{name: "the traces endpoint wins and is used as is", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4318/x"}, enabled: true,
			check: func(t Tracing) bool { return t.Endpoint == "http://b:4318/x" && !t.EndpointIsBase }},
		{name: "exporter none wins", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, enabled: false},
		{name: "SDK disabled wins", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, enabled: false},
		{name: "grpc, sampler, service, resource", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
			"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25", "OTEL_SERVICE_NAME": "svc",
			"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,team=a%20b"}, enabled: true,
			check: func(t Tracing) bool {
				return t.Protocol == "grpc" && t.Sampler == "parentbased_traceidratio" && t.SamplerArg == 0.25 && t.ServiceName == "svc" &&
					t.ResourceAttributes["deployment.environment"] == "prod" && t.ResourceAttributes["team"] == "a b"
			}},
		{name: "unknown exporter", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, err: "OTLP only"},
		{name: "unknown protocol", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, err: "grpc or http/protobuf"},
		{name: "bad endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, err: "want a URL"},
		{name: "bad sampler", env: map[string]string{"OTEL_TRACES_SAMPLER": "sometimes"}, err: "OTEL_TRACES_SAMPLER"},
		{name: "bad ratio", env: map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, err: "ratio"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := LoadTracing(func(k string) string { return c.env[k] })
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Enabled != c.enabled {
				t.Errorf("enabled = %v, want %v", got.Enabled, c.enabled)
			}
			if c.check != nil && !c.check(got) {
				t.Errorf("got %+v", got)
			}
		})
	}
}

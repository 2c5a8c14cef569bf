package config

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Tracing is the OpenTelemetry trace export, configured only by the
// standard OTEL_* variables (the OpenTelemetry SDK environment
// specification) so that a collector's usual settings work unchanged. It
// is off unless a trace endpoint is set or OTEL_TRACES_EXPORTER=otlp.
type Tracing struct {
	Enabled bool
	// Protocol is "grpc" or "http/protobuf" (the default, as in the spec).
	Protocol string
	// Endpoint is the OTLP endpoint as given: a base URL
	// (OTEL_EXPORTER_OTLP_ENDPOINT; HTTP appends /v1/traces) or the
	// traces URL itself (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). Empty: the
	// exporter's default (localhost:4317 or :4318).
	Endpoint       string
	EndpointIsBase bool
	// Sampler and SamplerArg are OTEL_TRACES_SAMPLER and its argument;
	// the default is parentbased_always_on.
	Sampler    string
	SamplerArg float64
	// ServiceName is OTEL_SERVICE_NAME, "memproxy" by default.
	ServiceName string
	// ResourceAttributes are OTEL_RESOURCE_ATTRIBUTES, key=value pairs.
	ResourceAttributes map[string]string
}

// TracingVariables are the OTEL_* variables memproxy reads itself. The OTLP
// exporter reads the rest of OTEL_EXPORTER_OTLP_* (headers, timeout,
// compression, certificates) from the process environment.
var TracingVariables = []string{
	"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER",
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
	"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
}

var samplers = []string{"always_on", "always_off", "traceidratio",
	"parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"}

// LoadTracing reads the OTEL_* variables through getenv.
func LoadTracing(getenv func(string) string) (Tracing, error) {
	t := Tracing{Protocol: "http/protobuf", Sampler: "parentbased_always_on", SamplerArg: 1, ServiceName: "memproxy"}
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	if v := get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); v != "" {
		t.Endpoint = v
	} else if v := get("OTEL_EXPORTER_OTLP_ENDPOINT"); v != "" {
		t.Endpoint, t.EndpointIsBase = v, true
	}
	switch exp := strings.ToLower(get("OTEL_TRACES_EXPORTER")); exp {
	case "":
		t.Enabled = t.Endpoint != ""
	case "none":
	case "otlp":
		t.Enabled = true
	default:
		return Tracing{}, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: memproxy exports traces over OTLP only (otlp or none)", exp)
	}
	if strings.EqualFold(get("OTEL_SDK_DISABLED"), "true") {
		t.Enabled = false
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v := get(name); v != "" {
			if v != "grpc" && v != "http/protobuf" {
				return Tracing{}, fmt.Errorf("%s=%s: want grpc or http/protobuf", name, v)
			}
			t.Protocol = v
			break
		}
	}
	if t.Endpoint != "" {
		if u, err := url.Parse(t.Endpoint); err != nil || u.Scheme == "" || u.Host == "" {
			return Tracing{}, fmt.Errorf("OTLP endpoint %q: want a URL such as http://collector:4318", t.Endpoint)
		}
	}
	if v := strings.ToLower(get("OTEL_TRACES_SAMPLER")); v != "" {
		if !slices.Contains(samplers, v) {
			return Tracing{}, fmt.Errorf("OTEL_TRACES_SAMPLER=%s: want one of %s", v, strings.Join(samplers, ", "))
		}
		t.Sampler = v
	}
	if v := get("OTEL_TRACES_SAMPLER_ARG"); v != "" && strings.HasSuffix(t.Sampler, "traceidratio") {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return Tracing{}, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%s: want a ratio from 0 to 1", v)
		}
		t.SamplerArg = f
	}
	if v := get("OTEL_SERVICE_NAME"); v != "" {
		t.ServiceName = v
	}
	if v := get("OTEL_RESOURCE_ATTRIBUTES"); v != "" {
		t.ResourceAttributes = map[string]string{}
		for _, kv := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(kv, "=")
			if !ok {
				return Tracing{}, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %q is not key=value", kv)
			}
			// Values are percent-encoded, as in the W3C Baggage format.
			if dec, err := url.PathUnescape(strings.TrimSpace(val)); err == nil {
				val = dec
			}
			t.ResourceAttributes[strings.TrimSpace(k)] = val
		}
	}
	return t, nil
}

# memproxy: a small static image.
# Build: docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t memproxy .
# Run:   docker run -p 127.0.0.1:8080:8080 -v memproxy-data:/data -e MEMPROXY_API_KEYS=dev-key memproxy
# (published on the host's loopback only: see "Docker" in the README)

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The version `memproxy version` prints. Without it the binary says what the
# Go toolchain recorded, which in an image (no .git copied) is "devel".
ARG VERSION=
# Pure Go (bbolt needs no cgo): a static binary that runs on scratch.
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w -X github.com/memproxy/memproxy/internal/version.stamped=${VERSION}" \
      -o /out/memproxy . \
 && mkdir -p /out/data

FROM scratch
# CA certificates, to reach https upstreams such as the OpenAI API.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/memproxy /memproxy
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
# In a container the sidecar must listen beyond loopback to be reachable
# from the app's container or host; keep the port private to the pod or
# host network (see "Security" in the README).
ENV MEMPROXY_LISTEN=0.0.0.0:8080 \
    MEMPROXY_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/memproxy"]

# gatewatch container image: a static binary on distroless, running as
# non-root (65532), symbols stripped. Build it with `make image`, which tags
# it with this release (internal/version): ghcr.io/gatewatch/gatewatch:v0.1.0.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION overrides internal/version.Version only for builds between releases.
ARG VERSION=
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w ${VERSION:+-X github.com/gatewatch/gatewatch/internal/version.Version=${VERSION}}" -o /out/gatewatch ./cmd/gatewatch

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatewatch /usr/local/bin/gatewatch
USER 65532:65532
EXPOSE 9421
ENTRYPOINT ["/usr/local/bin/gatewatch"]
CMD ["run", "-c", "/etc/gatewatch/gatewatch.yaml", "--listen=0.0.0.0:9421", "--data-dir=/var/lib/gatewatch"]

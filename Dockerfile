# gatewatch container image: a static binary on distroless, running as
# non-root (65532). Build: docker build -t ghcr.io/gatewatch/gatewatch:latest .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/gatewatch/gatewatch/internal/cli.version=${VERSION}" -o /out/gatewatch ./cmd/gatewatch

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatewatch /usr/local/bin/gatewatch
USER 65532:65532
EXPOSE 9421
ENTRYPOINT ["/usr/local/bin/gatewatch"]
CMD ["run", "-c", "/etc/gatewatch/gatewatch.yaml", "--listen=0.0.0.0:9421", "--data-dir=/var/lib/gatewatch"]

// Package version is gatewatch's release and the container image that
// goes with it: the one image reference `render`, the chart, the Dockerfile
// and the docs use (never a moving tag such as latest).
package version

// Version is the release this source is; a build between releases may set
// it with -ldflags "-X github.com/gatewatch/gatewatch/internal/version.Version=v0.1.0-3-gabcdef".
var Version = "v0.1.0"

// Repository is where the image is published.
const Repository = "ghcr.io/gatewatch/gatewatch"

// Image is this release's container image.
func Image() string { return Repository + ":" + Version }

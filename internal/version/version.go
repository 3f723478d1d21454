// Package version is gatewatch's release and the container image that
// goes with it: the one image reference `render`, the chart, the Dockerfile
// and the docs use (never a moving tag such as latest).
package version

// Release is the release this source is, and the tag of its published
// image.
const Release = "v0.1.0"

// Version is what `gatewatch version` prints: the release, or a build
// between releases stamped with -ldflags
// "-X github.com/gatewatch/gatewatch/internal/version.Version=v0.1.0-3-gabcdef".
// The image stays the release's: a stamped build names no published image.
var Version = Release

// Repository is where the image is published.
const Repository = "ghcr.io/gatewatch/gatewatch"

// Image is this release's container image.
func Image() string { return Repository + ":" + Release }

//go:build zkutil_static

package zkutil

// #cgo pkg-config: zkutil-static
import "C"

//go:build !zkutil_static

package zkutil

// #cgo pkg-config: zkutil
import "C"

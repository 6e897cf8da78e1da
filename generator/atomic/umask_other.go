//go:build !unix

package atomic

import "io/fs"

// processUmask is the usual umask where there is none.
func processUmask() fs.FileMode { return 0o022 }

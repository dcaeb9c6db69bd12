//go:build tools

// This module only pins actionlint's modules for `go build`; it has no code of its own.
package tools

import _ "github.com/rhysd/actionlint/cmd/actionlint"

//go:build tools

// This module only pins the Pulumi CLI's modules for `go build`; it has no code of its own.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"

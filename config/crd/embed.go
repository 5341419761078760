// Package crd embeds Flotilla's CustomResourceDefinitions, generated into
// bases/ by `make generate`, so that programs such as `flotilla demo` can
// install them without a checkout of the repository.
package crd

import "embed"

// Bases holds bases/*.yaml: one CustomResourceDefinition per file.
//
//go:embed bases/*.yaml
var Bases embed.FS

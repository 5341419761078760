// Command crd2schema writes the JSON Schemas that editors use to check
// fleet files: docs/schema/cluster.json and docs/schema/app.json, derived
// from the openAPIV3Schema of the Cluster and App CRDs in config/crd/bases.
//
// Run it from the repository root after `make manifests`:
//
//	go run ./hack/crd2schema
//
// or with -check to fail when the checked-in schemas are out of date.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// target is one schema to write.
type target struct {
	// crd is the CRD file name under the CRD folder.
	crd string
	// out is the schema file name under the output folder.
	out string
}

// targets are the fleet file kinds that get a schema.
var targets = []target{
	{crd: "flotilla.dev_clusters.yaml", out: "cluster.json"},
	{crd: "flotilla.dev_apps.yaml", out: "app.json"},
}

func main() {
	crdDir := flag.String("crds", "config/crd/bases", "folder holding the generated CRDs")
	outDir := flag.String("out", "docs/schema", "folder to write the JSON Schemas to")
	check := flag.Bool("check", false, "do not write; exit 1 when a schema differs from what would be written")
	flag.Parse()
	if err := run(*crdDir, *outDir, *check); err != nil {
		fmt.Fprintln(os.Stderr, "crd2schema:", err)
		os.Exit(1)
	}
}

// run converts every target, and writes or checks the result.
func run(crdDir, outDir string, check bool) error {
	if !check {
		if err := os.MkdirAll(outDir, 0o755); err != nil { //nolint:gosec // docs/schema is a public, committed part of the source tree
			return fmt.Errorf("creating %s: %w", outDir, err)
		}
	}
	for _, t := range targets {
		in := filepath.Join(crdDir, t.crd)
		out := filepath.Join(outDir, t.out)
		crd, err := os.ReadFile(in)
		if err != nil {
			return fmt.Errorf("reading the CRD: %w", err)
		}
		schema, err := Convert(crd)
		if err != nil {
			return fmt.Errorf("converting %s: %w", in, err)
		}
		if check {
			have, err := os.ReadFile(out)
			if err != nil {
				return fmt.Errorf("reading the schema: %w", err)
			}
			if !bytes.Equal(have, schema) {
				return fmt.Errorf("%s is out of date with %s; run go run ./hack/crd2schema", out, in)
			}
			continue
		}
		if err := os.WriteFile(out, schema, 0o644); err != nil { //nolint:gosec // a published JSON Schema in the source tree, meant to be world-readable
			return fmt.Errorf("writing the schema: %w", err)
		}
	}
	return nil
}

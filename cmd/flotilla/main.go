// Command flotilla is the one Flotilla binary: the hub controller, the
// offline tools (validate, render, explain, diff, status) and the demo.
package main

import (
	"os"

	"github.com/flotilla-gitops/flotilla/internal/cli"
)

func main() {
	os.Exit(cli.Execute(os.Args[1:], os.Stdout, os.Stderr))
}

// Package cli implements the flotilla command line: one cobra command per
// file, each a thin front door onto the shared pipeline stages.
package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// ExitError carries a specific exit code out of a command (for example
// `flotilla diff` exits 1 when there are changes).
type ExitError struct {
	// Code is the process exit code.
	Code int
	// Err is the error to print, if any.
	Err error
}

// Error returns the wrapped error's message.
func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e *ExitError) Unwrap() error { return e.Err }

// NewRootCommand builds the flotilla command tree writing to out and errOut.
func NewRootCommand(out, errOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "flotilla",
		Short:         "GitOps for fleets of Kubernetes clusters",
		Long:          "Flotilla renders every cluster's manifests from one fleet repository in Git,\napplies them with server-side apply, and reports sync status on the hub and in Git.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.AddCommand(newVersionCommand())
	for _, add := range extraCommands {
		root.AddCommand(add())
	}
	addCompletions(root)
	return root
}

// extraCommands are registered by the other files of this package.
var extraCommands []func() *cobra.Command

// Execute runs the command line and returns the process exit code.
func Execute(args []string, out, errOut io.Writer) int {
	root := NewRootCommand(out, errOut)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		if exit.Err != nil {
			fmt.Fprintln(errOut, "Error:", exit.Err)
		}
		return exit.Code
	}
	fmt.Fprintln(errOut, "Error:", err)
	return 2
}

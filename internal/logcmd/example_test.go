package logcmd_test

import (
	"errors"
	"fmt"

	"github.com/keystage/keystage/internal/logcmd"
)

// A job executor's handling of one output line.
func Example() {
	for _, line := range []string{
		"building...",
		"##vso[task.setvariable variable=token;issecret=true]s3cr3t%AZP25",
		"##vso[task.complete result=succeeded]",
		"echo ##vso",
	} {
		cmd, err := logcmd.Parse(line, logcmd.Options{})
		var syntax *logcmd.SyntaxError
		switch {
		case errors.Is(err, logcmd.ErrNotCommand):
			fmt.Println("output:", line)
			continue
		case errors.As(err, &syntax):
			fmt.Println("output:", line)
			fmt.Println("warning:", err)
			continue
		}
		op, err := logcmd.Decode(cmd)
		var issue *logcmd.Issue
		if errors.As(err, &issue) {
			fmt.Printf("%s: %s\n", issue.Severity, issue.Message)
			continue
		}
		switch op := op.(type) {
		case logcmd.SetVariable:
			fmt.Printf("set %s (secret %v) = %q\n", op.Name, op.Secret, op.Value)
		}
	}
	// Output:
	// output: building...
	// set token (secret true) = "s3cr3t%"
	// error: Command doesn't have valid result value.
	// output: echo ##vso
	// warning: 'echo ##vso' contains logging command keyword '##vso', but it's not a legal command. Please see the list of accepted commands: https://go.microsoft.com/fwlink/?LinkId=817296
}

package main

import (
	"fmt"
	"io"
)

// configCheckCmd lists every problem in a config file, or says it is OK.
func configCheckCmd(args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("config check", "config check --config FILE", stderr)
	if code, ok := cmd.parse(args); !ok {
		return code
	}
	// The problems are this command's output.
	if _, ok := loadConfig(cmd.path, stdout); !ok {
		return exitFail
	}
	fmt.Fprintln(stdout, "config OK")
	return exitOK
}

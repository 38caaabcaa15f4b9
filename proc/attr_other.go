//go:build unix && !linux

package proc

import "syscall"

// sysProcAttr puts the child in its own process group. There is no
// parent-death signal outside Linux: a child outlives a bot that dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

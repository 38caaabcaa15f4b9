// Package checks holds the scheduled checks: one file per kind behind the
// Check interface, the scheduler that runs thousands of them from one timing
// heap with a bounded worker pool, and the incident state machine that
// decides when to open, edit, remind, escalate and resolve.
package checks

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"time"

	"gorm.io/gorm"

	"opsbot/clock"
	"opsbot/config"
	"opsbot/snmp"
)

// Result is the outcome of one run of a check.
type Result struct {
	OK bool
	// Error says what was wrong when OK is false, in words for people.
	Error string
	// Latency is how long the run took.
	Latency time.Duration
}

// Check is one configured probe.
type Check interface {
	// Run probes once; ctx carries the check's timeout.
	Run(ctx context.Context) Result
}

// Env is what check constructors may need beyond their own config.
type Env struct {
	Config *config.Config
	// DB is the database, for backup-freshness; may be nil.
	DB    *gorm.DB
	Clock clock.Clock
	// RootCAs, when set, replaces the system roots for http and tls checks
	// (tests with their own certificate authority).
	RootCAs *x509.CertPool
	// Transports, when set, shares HTTP connections among http checks.
	Transports *Transports
	// SNMP is the SNMP client that device lookups use too, so snmp checks
	// share its devices.max_concurrent limit; snmp checks need it.
	SNMP *snmp.Client
}

// Constructor builds a check of one kind from its config.
type Constructor func(c config.Check, env Env) (Check, error)

// Kinds is the registry of check kinds: adding a kind is its own file and
// one line here.
func Kinds() map[string]Constructor {
	return map[string]Constructor{
		config.KindHTTP:            newHTTP,
		config.KindTCP:             newTCP,
		config.KindDNS:             newDNS,
		config.KindTLS:             newTLS,
		config.KindCommand:         newCommand,
		config.KindSNMP:            newSNMP,
		config.KindBackupFreshness: newFreshness,
	}
}

// New builds the check described by c.
func New(c config.Check, env Env) (Check, error) {
	ctor, ok := Kinds()[c.Kind]
	if !ok {
		known := make([]string, 0, len(Kinds()))
		for k := range Kinds() {
			known = append(known, k)
		}
		sort.Strings(known)
		return nil, fmt.Errorf("check %s: unknown kind %q (use one of %v)", c.Name, c.Kind, known)
	}
	ch, err := ctor(c, env)
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", c.Name, err)
	}
	return ch, nil
}

// fail builds a failed result.
func fail(start time.Time, format string, args ...any) Result {
	return Result{Error: fmt.Sprintf(format, args...), Latency: time.Since(start)}
}

// ok builds a good result.
func ok(start time.Time) Result { return Result{OK: true, Latency: time.Since(start)} }

// timeoutErr describes err, naming a timeout as such.
func timeoutErr(ctx context.Context, err error) string {
	if ctx.Err() == context.DeadlineExceeded || errors.Is(err, os.ErrDeadlineExceeded) {
		return "timed out"
	}
	// "dial tcp 10.0.0.5:5432: connect: connection refused" repeats what
	// the message already says; the cause is what people need.
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		var sys *os.SyscallError
		if errors.As(op.Err, &sys) && sys.Err != nil {
			return sys.Err.Error()
		}
		return op.Err.Error()
	}
	return err.Error()
}

package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func advDoc(n int) string {
	var b strings.Builder
	b.WriteString("x-to: &to [")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "nobody%d", i)
	}
	b.WriteString("]\npeople:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: p%d, teams: [t%d]}\n", i, i)
	}
	b.WriteString("checks:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: c%d, kind: tcp, address: 'h:1', every: 1m, team: tx%d, timezone: Europe/Paris, escalate: {after: 1m, to: *to}}\n", i, i)
	}
	return b.String()
}

func TestAdversarial(t *testing.T) {
	for _, n := range []int{100, 300, 1000} {
		src := advDoc(n)
		start := time.Now()
		_, err := Parse([]byte(src), nil)
		ps, _ := err.(Problems)
		t.Logf("n=%d size=%d problems=%d took %v", n, len(src), len(ps), time.Since(start))
	}
}

package config

import (
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
)

// TestRedactDSN: every spelling of a password in a PostgreSQL DSN comes out
// as ****, and nothing of the secret is left, in the DSN or in a message
// that quotes it.
func TestRedactDSN(t *testing.T) {
	t.Parallel()
	const sec = "Hunter2secret"
	tests := []struct{ dsn, want, pw string }{
		{"host=db user=u password=" + sec + " dbname=x", "host=db user=u password=**** dbname=x", sec},
		{"host=db password = " + sec + " dbname=x", "host=db password = **** dbname=x", sec},
		{"host=db password= " + sec, "host=db password= ****", sec},
		{"host=db PASSWORD='" + sec + " with spaces' dbname=x", "host=db PASSWORD=**** dbname=x", sec + " with spaces"},
		{`host=db password='` + sec + `\'s' dbname=x`, "host=db password=**** dbname=x", sec + "'s"},
		{`host=db password=` + sec + `\ more dbname=x`, "host=db password=**** dbname=x", sec + `\ more`},
		{"host=db password='" + sec + " unclosed", "host=db password=****", sec + " unclosed"},
		{"host=db sslpassword=" + sec, "host=db sslpassword=****", sec},
		{"postgres://u:" + sec + "@db:5432/x?sslmode=disable", "postgres://u:****@db:5432/x?sslmode=disable", sec},
		{"postgresql://u:" + sec + "@w@rd@db/x", "postgresql://u:****@db/x", sec + "@w@rd"},
		{"postgres://u@db/x?sslmode=disable&password=" + sec + "&connect_timeout=5", "postgres://u@db/x?sslmode=disable&password=****&connect_timeout=5", sec},
		{"postgres://u@db/x?password=" + sec, "postgres://u@db/x?password=****", sec},
		{"POSTGRES://u:" + sec + "@[bad/x", "POSTGRES://u:****@[bad/x", sec},
		{"postgres://u:pct%40" + sec + "@db/x", "postgres://u:****@db/x", "pct@" + sec},
		{"host=db user=u dbname=x", "host=db user=u dbname=x", ""},
		{"opsbot.db", "opsbot.db", ""},
	}
	for _, tt := range tests {
		if got := RedactDSN(tt.dsn); got != tt.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tt.dsn, got, tt.want)
		}
		d := DatabaseConfig{Driver: "postgres", DSN: tt.dsn}
		// A driver's message quoting the DSN, or the password alone, decoded.
		if tt.pw == "" {
			continue
		}
		msg := "cannot parse `" + tt.dsn + "`: bad; password " + tt.pw + "."
		err := d.RedactErr(errors.New(msg))
		if strings.Contains(err.Error(), sec) {
			t.Errorf("RedactErr(%q) = %q, still holds the secret", msg, err)
		}
	}
	inner := os.ErrNotExist
	d := DatabaseConfig{DSN: "password=" + sec}
	if err := d.RedactErr(errors.Join(errors.New("password="+sec), inner)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("RedactErr hides the error beneath from errors.Is: %v", err)
	}
}

// FuzzRedactDSN: whatever surrounds it, a password written in any of the
// spellings comes out of RedactDSN and RedactErr masked.
func FuzzRedactDSN(f *testing.F) {
	f.Add("host=db user=u", "Hunter2secret", uint8(0))
	f.Add("sslmode=disable", "s3cr3t", uint8(1))
	f.Add("connect_timeout=5", "pw", uint8(2))
	f.Add("dbname='a b'", "x'y z", uint8(3))
	f.Fuzz(func(t *testing.T, rest, secret string, spelling uint8) {
		// A password of letters and digits, which every spelling holds as
		// written; the rest must not already hold it.
		secret = strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, secret)
		if len(secret) < minSecret || strings.Contains(rest, secret) || strings.Contains(url.QueryEscape(rest), secret) {
			t.Skip()
		}
		dsn, pw := "", secret // pw: the password as a driver reads it
		switch spelling % 4 {
		case 0:
			dsn = rest + " password=" + secret
		case 1:
			dsn, pw = "password = '"+secret+" x' "+rest, secret+" x"
		case 2:
			dsn = "postgres://u:" + secret + "@db/x?" + url.QueryEscape(rest)
		case 3:
			dsn = "postgres://u@db/x?password=" + secret + "&" + url.QueryEscape(rest)
		}
		if got := RedactDSN(dsn); strings.Contains(got, secret) {
			t.Fatalf("RedactDSN(%q) = %q", dsn, got)
		}
		d := DatabaseConfig{Driver: "postgres", DSN: dsn}
		if got := d.RedactErr(errors.New("cannot parse `" + dsn + "`: " + pw)).Error(); strings.Contains(got, secret) {
			t.Fatalf("RedactErr for %q = %q", dsn, got)
		}
	})
}

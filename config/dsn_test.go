package config

import (
	"errors"
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

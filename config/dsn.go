package config

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
)

// dsnMask stands for a password in a DSN shown to people.
const dsnMask = "****"

var (
	// password = 'va lue' or password=value, any key ending in password
	// (sslpassword too), spaces around = allowed as libpq allows them; an
	// unclosed quote runs to the end.
	kvPassword = regexp.MustCompile(`(?i)(\b[a-z_]*password\s*=\s*)('(?:\\.|[^'\\])*(?:'|$)|(?:\\.|[^\s\\])*)`)
	// scheme://user:password@host — the password may hold unescaped @ or
	// /, so it runs to the last @ before the query.
	urlUserinfo = regexp.MustCompile(`(?i)^([a-z][a-z0-9+.-]*://[^:/?#@]*:)([^?#]*)@`)
	// ?password=value or &password=value in a URL's query.
	urlQueryPassword = regexp.MustCompile(`(?i)([?&][a-z_]*password=)([^&#]*)`)
)

// RedactDSN returns dsn with every password replaced by ****, in each
// spelling a PostgreSQL DSN allows: key=value with or without spaces
// around the =, quoted or not, a URL's user info and its ?password=.
func RedactDSN(dsn string) string {
	if isURL(dsn) {
		dsn = urlUserinfo.ReplaceAllString(dsn, "${1}"+dsnMask+"@")
		return urlQueryPassword.ReplaceAllString(dsn, "${1}"+dsnMask)
	}
	return kvPassword.ReplaceAllString(dsn, "${1}"+dsnMask)
}

// dsnSecrets returns the passwords dsn holds, as written and as decoded,
// so that a driver's message that quotes one either way can be cleaned.
func dsnSecrets(dsn string) []string {
	var out []string
	add := func(s string) {
		if len(s) >= minSecret {
			out = append(out, s)
		}
	}
	if isURL(dsn) {
		for _, m := range urlUserinfo.FindAllStringSubmatch(dsn, -1) {
			add(m[2])
			if d, err := url.PathUnescape(m[2]); err == nil {
				add(d)
			}
		}
		for _, m := range urlQueryPassword.FindAllStringSubmatch(dsn, -1) {
			add(m[2])
			if d, err := url.QueryUnescape(m[2]); err == nil {
				add(d)
			}
		}
		return out
	}
	for _, m := range kvPassword.FindAllStringSubmatch(dsn, -1) {
		v := m[2]
		add(v)
		if strings.HasPrefix(v, "'") {
			v = strings.TrimSuffix(strings.TrimPrefix(v, "'"), "'")
			add(v)
			add(strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(v))
		}
	}
	return out
}

// minSecret is the shortest password that is cleaned out of messages
// wherever it appears; a shorter one would mangle ordinary words, and is
// still cleaned out of the DSN itself.
const minSecret = 3

func isURL(dsn string) bool {
	s := strings.ToLower(strings.TrimSpace(dsn))
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Redact returns s with the DSN and every password in it masked.
func (d DatabaseConfig) Redact(s string) string {
	if d.DSN == "" {
		return s
	}
	s = strings.ReplaceAll(s, d.DSN, RedactDSN(d.DSN))
	for _, sec := range dsnSecrets(d.DSN) {
		s = strings.ReplaceAll(s, sec, dsnMask)
	}
	return s
}

// RedactErr returns err with its message cleaned of the DSN's passwords;
// errors.Is and As still see the error beneath. It returns nil for nil.
func (d DatabaseConfig) RedactErr(err error) error {
	if err == nil {
		return nil
	}
	var r *redactedError
	if errors.As(err, &r) && r.Error() == d.Redact(err.Error()) {
		return err
	}
	return &redactedError{msg: d.Redact(err.Error()), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

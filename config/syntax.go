package config

import (
	"net"
	"net/mail"
	"net/netip"
	"strconv"
	"strings"
)

// The functions below report whether a string has the form of some kind of
// value; the validator says what is wrong and what to write instead.

// validPort reports whether s is a port number, 0 only if zeroOK.
func validPort(s string, zeroOK bool) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n <= 65535 && (n > 0 || zeroOK && n == 0) && s[0] != '+' && s[0] != '-'
}

// snowflake reports whether s is a Discord ID.
func snowflake(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// slackID reports whether s looks like a Slack user or channel ID.
func slackID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= 'A' && s[i] <= 'Z' || s[i] >= '0' && s[i] <= '9') {
			return false
		}
	}
	return true
}

// hexKey reports whether s is a 32-byte key in hex.
func hexKey(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// email reports whether s is a plain e-mail address.
func email(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && domain != "" && !strings.ContainsAny(s, " <>")
}

// hostname reports whether s is a valid DNS name.
func hostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	// A name whose last label is a number is a mistyped IPv4 address.
	_, err := strconv.Atoi(labels[len(labels)-1])
	return err != nil
}

// host reports whether s is an IP address or a DNS name.
func host(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	return hostname(s)
}

// hostPort reports whether s is host:port with a valid host and a port
// from 1 to 65535.
func hostPort(s string) bool {
	h, p, err := net.SplitHostPort(s)
	return err == nil && host(h) && validPort(p, false)
}

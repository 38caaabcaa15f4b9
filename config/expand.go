package config

import (
	"fmt"
	"strings"
)

// expand replaces ${VAR} and ${VAR:-default} in s with values from lookup
// and $$ with $. A default is used when VAR is unset or empty; it is taken
// as it is, and so are the values put in: nothing is expanded twice. A $
// followed by anything else stays as it is. Unset lists the variables that
// were referred to without a default and are not set.
//
// Errors do not quote s, because s may be a secret.
func expand(s string, lookup func(string) (string, bool)) (out string, unset []string, err error) {
	if !strings.Contains(s, "$") {
		return s, nil, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c != '$' || i+1 == len(s):
			b.WriteByte(c)
			i++
		case s[i+1] == '$':
			b.WriteByte('$')
			i += 2
		case s[i+1] != '{':
			b.WriteByte(c)
			i++
		default:
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", nil, fmt.Errorf(`"${" at character %d has no closing "}" (write $$ for a literal $)`, i+1)
			}
			ref := s[i+2 : i+2+end]
			name, def, hasDef := strings.Cut(ref, ":-")
			if !envName(name) {
				return "", nil, fmt.Errorf(`"${" at character %d does not start an environment variable name (use ${NAME} or ${NAME:-default} with letters, digits and _, or write $$ for a literal $)`, i+1)
			}
			v, ok := lookup(name)
			switch {
			case hasDef && v == "":
				v = def
			case !ok:
				unset = append(unset, name)
			}
			b.WriteString(v)
			i += 2 + end + 1
		}
	}
	return b.String(), unset, nil
}

// envName reports whether s is a valid environment variable name.
func envName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

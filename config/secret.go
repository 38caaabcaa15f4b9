package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
)

// Secret is a string that never prints: fmt, JSON, YAML and slog all show
// <secret> instead of the value, and an empty Secret shows as "" so that an
// unset secret is still visible. Call Reveal where the value is needed.
//
// fmt cannot see methods on unexported struct fields, so keep secrets in
// exported fields or print them one by one.
type Secret string

const redacted = "<secret>"

// Reveal returns the secret's value.
func (s Secret) Reveal() string {
	return string(s)
}

// String returns <secret>, or "" when the secret is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString returns the redacted value as a quoted Go string, for %#v.
func (s Secret) GoString() string {
	return strconv.Quote(s.String())
}

// Format prints the redacted value for every verb, so that even %x or %q
// cannot reveal the secret.
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		fmt.Fprint(f, s.GoString())
	case verb == 'q':
		fmt.Fprintf(f, fmt.FormatString(f, 'q'), s.String())
	default:
		fmt.Fprintf(f, fmt.FormatString(f, 's'), s.String())
	}
}

// MarshalJSON writes the redacted value.
func (s Secret) MarshalJSON() ([]byte, error) {
	return json.Marshal(s.String())
}

// MarshalYAML writes the redacted value.
func (s Secret) MarshalYAML() (any, error) {
	return s.String(), nil
}

// LogValue logs the redacted value.
func (s Secret) LogValue() slog.Value {
	return slog.StringValue(s.String())
}

// formatStruct prints v, a copy of a struct without methods, as %v (with
// its flags) would, whatever the verb; name is the struct's type name for
// %#v. The structs that hold secrets use it for their Format methods: for a
// verb that does not suit a struct, such as %s behind a pointer, fmt turns
// off the methods of the fields while it reports the bad verb, which would
// print a Secret field as it is.
func formatStruct(f fmt.State, verb rune, name string, v any) {
	if verb == 'v' && f.Flag('#') {
		s := fmt.Sprintf("%#v", v)
		if i := strings.IndexByte(s, '{'); i >= 0 {
			s = name + s[i:]
		}
		io.WriteString(f, s)
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, 'v'), v)
}

// Format prints the configuration like %v, keeping its secrets hidden.
func (c Config) Format(f fmt.State, verb rune) {
	type plain Config
	formatStruct(f, verb, "config.Config", plain(c))
}

// Format prints the settings like %v, keeping the tokens hidden.
func (s SlackConfig) Format(f fmt.State, verb rune) {
	type plain SlackConfig
	formatStruct(f, verb, "config.SlackConfig", plain(s))
}

// Format prints the settings like %v, keeping the token hidden.
func (d DiscordConfig) Format(f fmt.State, verb rune) {
	type plain DiscordConfig
	formatStruct(f, verb, "config.DiscordConfig", plain(d))
}

// Format prints the settings like %v, keeping the SNMP secrets hidden.
func (d DevicesConfig) Format(f fmt.State, verb rune) {
	type plain DevicesConfig
	formatStruct(f, verb, "config.DevicesConfig", plain(d))
}

// Format prints the profile like %v, keeping its secrets hidden.
func (p SNMPProfile) Format(f fmt.State, verb rune) {
	type plain SNMPProfile
	formatStruct(f, verb, "config.SNMPProfile", plain(p))
}

// Format prints the webhook like %v, keeping its secret hidden.
func (w Webhook) Format(f fmt.State, verb rune) {
	type plain Webhook
	formatStruct(f, verb, "config.Webhook", plain(w))
}

// SecretValues returns the value of every Secret in the configuration, so
// that a child process that prints, say, the Slack token does not post it.
func (c *Config) SecretValues() []string {
	var out []string
	secretType := reflect.TypeFor[Secret]()
	var walk func(v reflect.Value, depth int)
	walk = func(v reflect.Value, depth int) {
		if depth > 20 {
			return
		}
		if v.Type() == secretType {
			if s := v.String(); s != "" {
				out = append(out, s)
			}
			return
		}
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem(), depth+1)
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i), depth+1)
				}
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i), depth+1)
			}
		case reflect.Map:
			it := v.MapRange()
			for it.Next() {
				walk(it.Value(), depth+1)
			}
		}
	}
	if c != nil {
		walk(reflect.ValueOf(*c), 0)
	}
	return out
}

package config

// ValidName reports whether s is a valid name for people, devices, jobs and
// the other named things of the config: lower-case letters, digits, '.', '_'
// and '-', starting with a letter or digit.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// NameRule describes valid names, with a fixed-up s as an example when one
// exists, for error messages.
func NameRule(s string) string { return nameRule(s) }

// ValidHost reports whether s is an IPv4 or IPv6 address or a DNS name,
// without a port: what devices.inventory[].address accepts.
func ValidHost(s string) bool { return host(s) }

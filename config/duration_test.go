package config

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"0s", 0},
		{"30s", 30 * time.Second},
		{"90s", 90 * time.Second},
		{"15m", 15 * time.Minute},
		{"8h", 8 * time.Hour},
		{"1h30m", 90 * time.Minute},
		{"1.5h", 90 * time.Minute},
		{".5m", 30 * time.Second},
		{"1d", 24 * time.Hour},
		{"7d", 7 * 24 * time.Hour},
		{"1d12h", 36 * time.Hour},
		{"2w", 14 * 24 * time.Hour},
		{"1w2d3h4m5s", (9*24+3)*time.Hour + 4*time.Minute + 5*time.Second},
		{"0.5d", 12 * time.Hour},
		{"250ms", 250 * time.Millisecond},
		{"10us", 10 * time.Microsecond},
		{"10µs", 10 * time.Microsecond},
		{"10μs", 10 * time.Microsecond},
		{"5ns", 5},
		{" 5m ", 5 * time.Minute},
		{"+5m", 5 * time.Minute},
		{"106751d", 106751 * 24 * time.Hour},
		{"2562047h47m16.854775807s", 1<<63 - 1},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseDurationErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty duration (use a number and a unit, e.g. 30s, 15m, 8h or 7d)"},
		{"  ", "empty duration"},
		{"7x", `"7x": unknown unit "x" (use s, m, h, d or w)`},
		{"5 m", `"5 m": unknown unit " m"`},
		{"1H", `"1H": unknown unit "H"`},
		{"3 days", `"3 days": unknown unit " days"`},
		{"30", `"30": missing unit after 30 (use s, m, h, d or w, e.g. "30s")`},
		{"1h30", `"1h30": missing unit after 30`},
		{"1.5", `"1.5": missing unit after 1.5 (use s, m, h, d or w, e.g. "1.5s")`},
		{"-5m", `"-5m": negative durations are not allowed`},
		{"-0", "negative durations are not allowed"},
		{"h", `"h" is not a duration (use a number and a unit, e.g. 30s, 15m, 8h or 7d)`},
		{"+", "is not a duration"},
		{"1h-5m", `"1h-5m" is not a duration`},
		{".s", "is not a duration"},
		{"soon", "is not a duration"},
		{"106752d", `"106752d": too long (at most 106751d)`},
		{"2562047h47m16.854775808s", "too long"},
		{"99999999999999999999s", "too long"},
		{"15251w", "too long"},
		{"9223372036854775807ns1ns", "too long"},
	}
	for _, tt := range tests {
		_, err := ParseDuration(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseDuration(%q) error = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestDurationString(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{time.Second, "1s"},
		{90 * time.Second, "1m30s"},
		{15 * time.Minute, "15m"},
		{90 * time.Minute, "1h30m"},
		{26 * time.Hour, "26h"},
		{24 * time.Hour, "1d"},
		{14 * 24 * time.Hour, "14d"},
		{time.Hour + time.Second, "1h1s"},
		{1500 * time.Millisecond, "1.5s"},
		{-time.Minute, "-1m0s"},
	}
	for _, tt := range tests {
		if got := Duration(tt.d).String(); got != tt.want {
			t.Errorf("Duration(%v).String() = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestDurationYAMLAndJSON(t *testing.T) {
	var v struct {
		D Duration `yaml:"d" json:"d"`
	}
	if err := yaml.Unmarshal([]byte("d: 1d12h"), &v); err != nil || v.D != Duration(36*time.Hour) {
		t.Fatalf("yaml.Unmarshal = %v, %v", v.D, err)
	}
	out, err := yaml.Marshal(v)
	if err != nil || string(out) != "d: 36h\n" {
		t.Errorf("yaml.Marshal = %q, %v", out, err)
	}
	if err := yaml.Unmarshal([]byte("d: 7x"), &v); err == nil || !strings.Contains(err.Error(), `unknown unit "x"`) {
		t.Errorf("yaml.Unmarshal(7x) error = %v", err)
	}
	if err := yaml.Unmarshal([]byte("d: [1s]"), &v); err == nil {
		t.Error("yaml.Unmarshal of a list succeeded")
	}
	j, err := json.Marshal(v)
	if err != nil || string(j) != `{"d":"36h"}` {
		t.Errorf("json.Marshal = %s, %v", j, err)
	}
	if err := json.Unmarshal([]byte(`{"d":"2w"}`), &v); err != nil || v.D != Duration(14*24*time.Hour) {
		t.Errorf("json.Unmarshal = %v, %v", v.D, err)
	}
}

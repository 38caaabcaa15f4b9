package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const secretValue = "hunter2-s3cret"

type holder struct {
	Name  string
	Token Secret
	Ptr   *Secret
	List  []Secret
	Map   map[string]Secret
}

func newHolder() holder {
	s := Secret(secretValue)
	return holder{Name: "x", Token: secretValue, Ptr: &s, List: []Secret{secretValue}, Map: map[string]Secret{"k": secretValue}}
}

func TestSecretFmt(t *testing.T) {
	h := newHolder()
	s := Secret(secretValue)
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%-10v", "%T"} {
		for _, arg := range []any{s, h, &h, *h.Ptr, h.List, h.Map, []any{s}} {
			out := fmt.Sprintf(format, arg)
			if strings.Contains(out, secretValue) || strings.Contains(out, fmt.Sprintf("%x", secretValue)) {
				t.Errorf("Sprintf(%q, %T) = %q reveals the secret", format, arg, out)
			}
		}
	}
	if got := fmt.Sprint(s); got != "<secret>" {
		t.Errorf("Sprint = %q", got)
	}
	if got := fmt.Sprintf("%q", s); got != `"<secret>"` {
		t.Errorf("%%q = %q", got)
	}
	if got := fmt.Sprintf("%#v", s); got != `"<secret>"` {
		t.Errorf("%%#v = %q", got)
	}
	if got := fmt.Sprintf("%+v", h); !strings.Contains(got, "Token:<secret>") {
		t.Errorf("%%+v of a struct = %q", got)
	}
	if got := fmt.Sprintf("[%10s]", s); got != "[  <secret>]" {
		t.Errorf("width = %q", got)
	}
	if got := fmt.Errorf("connect: token %v: %w", s, errors.New("denied")).Error(); strings.Contains(got, secretValue) {
		t.Errorf("error reveals the secret: %q", got)
	}
	if s.Reveal() != secretValue {
		t.Errorf("Reveal() = %q", s.Reveal())
	}
}

func TestEmptySecretShowsEmpty(t *testing.T) {
	var s Secret
	for _, format := range []string{"%v", "%s"} {
		if got := fmt.Sprintf(format, s); got != "" {
			t.Errorf("Sprintf(%q, empty) = %q, want empty", format, got)
		}
	}
	if got := fmt.Sprintf("%#v", s); got != `""` {
		t.Errorf("%%#v of empty = %q", got)
	}
	if got := fmt.Sprintf("%+v", struct{ T Secret }{}); got != "{T:}" {
		t.Errorf("%%+v of struct with empty secret = %q", got)
	}
}

func TestSecretJSONAndYAML(t *testing.T) {
	h := newHolder()
	j, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(j, &back); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(j), secretValue) || back["Token"] != "<secret>" {
		t.Errorf("json = %s", j)
	}
	y, err := yaml.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(y), secretValue) || !strings.Contains(string(y), "token: <secret>") {
		t.Errorf("yaml = %s", y)
	}
	j, _ = json.Marshal(struct{ T Secret }{})
	if string(j) != `{"T":""}` {
		t.Errorf("json of empty secret = %s", j)
	}
}

func TestSecretSlog(t *testing.T) {
	h := newHolder()
	c := parseFull(t)
	for _, name := range []string{"json", "text"} {
		var buf bytes.Buffer
		var handler slog.Handler = slog.NewJSONHandler(&buf, nil)
		if name == "text" {
			handler = slog.NewTextHandler(&buf, nil)
		}
		log := slog.New(handler)
		log.Info("start", "token", Secret(secretValue), "holder", h, "ptr", h.Ptr)
		log.Info("config", "slack", c.Slack, "config", c)
		log.With("token", Secret(secretValue)).Info("with")
		log.Info("group", slog.Group("g", "token", Secret(secretValue)))
		out := buf.String()
		if strings.Contains(out, secretValue) || strings.Contains(out, "xoxb-test") || strings.Contains(out, "signing-test") {
			t.Errorf("%s log reveals a secret:\n%s", name, out)
		}
		if !strings.Contains(out, "<secret>") {
			t.Errorf("%s log does not show <secret>:\n%s", name, out)
		}
	}
}

func TestConfigPrintHidesSecrets(t *testing.T) {
	c := parseFull(t)
	dev := c.Devices.Inventory[0]
	// fmt reports a verb that does not suit a struct behind a pointer with
	// the methods of its fields turned off, so try pointers to every
	// struct that holds a secret, with verbs good and bad.
	type outer struct {
		C       *Config
		Slack   *SlackConfig
		Discord *DiscordConfig
		Devices *DevicesConfig
		SNMP    *SNMPProfile
		Webhook *Webhook
	}
	args := []any{c, *c, outer{c, &c.Slack, &c.Discord, &c.Devices, dev.SNMPOverride, c.Access.Resources[1].Grant.Webhook}, dev, c.Access.Resources[1]}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%t", "%e", "%10.3s"} {
		for _, arg := range args {
			out := fmt.Sprintf(format, arg)
			for _, v := range fullEnv {
				if strings.Contains(out, v) || strings.Contains(out, fmt.Sprintf("%x", v)) {
					t.Errorf("Sprintf(%q, %T) reveals %q", format, arg, v)
				}
			}
		}
	}
	if got := fmt.Sprintf("%#v", Webhook{URL: "u", Secret: "s"}); got != `config.Webhook{URL:"u", Secret:"<secret>"}` {
		t.Errorf("%%#v of a webhook = %s", got)
	}
	if got := fmt.Sprintf("%+v", c.Slack); !strings.Contains(got, "BotToken:<secret>") || !strings.Contains(got, "AppToken: ") {
		t.Errorf("%%+v of slack settings = %s", got)
	}
}

// SecretValues finds secrets however deep: in structs, slices, pointers.
func TestSecretValues(t *testing.T) {
	t.Parallel()
	c := &Config{}
	c.Slack.BotToken = "xoxb-1"
	c.Discord.Token = ""
	c.Access.Resources = []Resource{{Name: "db", Grant: Action{Webhook: &Webhook{URL: "https://x", Secret: "hook-key"}}}}
	c.Devices.Inventory = []Device{{Name: "sw", SNMPOverride: &SNMPProfile{AuthPassphrase: "v3-auth"}}}
	got := strings.Join(c.SecretValues(), " ")
	if got != "xoxb-1 hook-key v3-auth" {
		t.Errorf("SecretValues = %q", got)
	}
	if (*Config)(nil).SecretValues() != nil {
		t.Error("a nil config has secrets")
	}
}

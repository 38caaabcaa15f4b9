package devices

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// fleet generates n devices: names like sw-0042-hq, IPv4 addresses spread
// over 10.0.0.0/16, every tenth device also has an IPv6 address instead,
// and tags by role and floor.
func fleet(n int) []storage.Device {
	sites := []string{"hq", "lab", "branch"}
	roles := []string{"core", "access", "edge", "wifi"}
	out := make([]storage.Device, n)
	for i := range out {
		addr := fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)
		if i%10 == 9 {
			addr = fmt.Sprintf("2001:db8::%x", i)
		}
		out[i] = storage.Device{
			Name:    fmt.Sprintf("sw-%04d-%s", i, sites[i%3]),
			Address: addr, Kind: "switch", Site: sites[i%3],
			Tags:   roles[i%4] + ",floor" + fmt.Sprint(i%20),
			Source: storage.DeviceFromCSV,
		}
	}
	return out
}

func TestLookup10000(t *testing.T) {
	t.Parallel()
	ix := NewIndex(fleet(10000))
	cases := []struct {
		q         string
		kind      string
		total     int
		first     string
		suggested string
	}{
		{"sw-0042-hq", ByName, 1, "sw-0042-hq", ""},
		{"SW-0042-HQ", ByName, 1, "sw-0042-hq", ""},
		{"10.0.0.43", ByAddress, 1, "sw-0042-hq", ""},
		{"10.0.1.1", ByAddress, 1, "sw-0250-lab", ""},
		{"2001:db8::9", ByAddress, 1, "sw-0009-hq", ""},
		{"2001:0db8:0:0::9", ByAddress, 1, "sw-0009-hq", ""},
		{"::ffff:10.0.0.43", ByAddress, 1, "sw-0042-hq", ""},
		{"10.0.3.0/24", ByCIDR, 225, "sw-0750-hq", ""},     // 250 per /24, minus the IPv6 tenth
		{"10.0.0.0/16", ByCIDR, 9000, "sw-0000-hq", ""},    // every IPv4 device
		{"10.0.3.7/24", ByCIDR, 225, "sw-0750-hq", ""},     // host bits are ignored
		{"2001:db8::/112", ByCIDR, 1000, "sw-0009-hq", ""}, // every IPv6 device
		{"192.168.0.0/16", ByCIDR, 0, "", ""},
		{"tag:core", ByTag, 2500, "sw-0000-hq", ""},
		{"tag:floor7", ByTag, 500, "sw-0007-lab", ""},
		{"wifi", ByTag, 2500, "sw-0003-hq", ""},
		{"-0042-", ByPartial, 1, "sw-0042-hq", ""},
		{"BRANCH", ByPartial, 3333, "sw-0002-branch", ""},
		{"sw-00", ByPartial, 100, "sw-0000-hq", ""},
		{"sw-0042-hx", ByPartial, 0, "", "sw-0042-hq"},
		{"zzzzzzzzzzzz", ByPartial, 0, "", ""},
		{"10.9.9.9", ByAddress, 0, "", ""},
	}
	for _, c := range cases {
		r := ix.Lookup(c.q, ListLimit)
		if r.Kind != c.kind || r.Total != c.total {
			t.Errorf("Lookup(%q): kind %s total %d, want %s %d", c.q, r.Kind, r.Total, c.kind, c.total)
			continue
		}
		if len(r.Devices) != min(c.total, ListLimit) {
			t.Errorf("Lookup(%q): %d devices listed", c.q, len(r.Devices))
		}
		if c.first != "" && r.Devices[0].Name != c.first {
			t.Errorf("Lookup(%q): first %s, want %s", c.q, r.Devices[0].Name, c.first)
		}
		if c.suggested != "" && (len(r.Suggestions) == 0 || r.Suggestions[0] != c.suggested) {
			t.Errorf("Lookup(%q): suggestions %v, want %s first", c.q, r.Suggestions, c.suggested)
		}
	}
}

// TestLookupReply checks the chat reply over a large inventory stored in
// the database: the list is capped with "and N more".
func TestLookupReply(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			env, _ := newEnv(t, b, testConfig())
			var csv strings.Builder
			csv.WriteString("name,address,tags\n")
			for _, d := range fleet(2000) {
				fmt.Fprintf(&csv, "%s,%s,%s\n", d.Name, d.Address, strings.ReplaceAll(d.Tags, ",", ";"))
			}
			if _, err := Import(context.Background(), env.Deps.Store, env.Deps.Config, strings.NewReader(csv.String()), "test", env.Clock.Now()); err != nil {
				t.Fatal(err)
			}
			got := env.Text("bob", "/device lookup 10.0.1.0/24")
			for _, w := range []string{`225 devices match "10.0.1.0/24" (by cidr)`, "sw-0250-lab — 10.0.1.1", "…and 210 more"} {
				if !strings.Contains(got, w) {
					t.Errorf("reply lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

// BenchmarkLookup prints lookups per second for each kind of query over an
// inventory of 10,000 devices.
func BenchmarkLookup(b *testing.B) {
	ix := NewIndex(fleet(10000))
	for _, q := range []struct{ kind, q string }{
		{"name", "sw-4242-hq"},
		{"ip", "10.0.16.243"},
		{"ipv6", "2001:db8::1069"},
		{"cidr24", "10.0.12.0/24"},
		{"tag", "tag:floor3"},
		{"partial", "-42"},
		{"none+suggest", "sw-4242-hx"},
	} {
		b.Run(q.kind, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := ix.Lookup(q.q, ListLimit); r.Kind == "" {
					b.Fatal("no kind")
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
		})
	}
	b.Run("build-index", func(b *testing.B) {
		devs := fleet(10000)
		for b.Loop() {
			NewIndex(devs)
		}
	})
}

func TestDistance(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b  string
		limit int
		want  int
	}{
		{"kitten", "sitting", 5, 3}, {"", "abc", 5, 3}, {"abc", "", 5, 3}, {"abc", "abc", 2, 0},
		{"core-sw-1", "core-sw-l", 2, 1}, {"abcdef", "badcfe", 2, 3}, {"a", "abcdefgh", 2, 3},
		{"flaw", "lawn", 3, 2}, {"sw-4242-hx", "sw-4242-hq", 3, 1}, {"gumbo", "gambol", 3, 2},
	} {
		buf := make([]int, 2*(len(c.b)+1))
		if got := distance(c.a, c.b, c.limit, buf); got != c.want {
			t.Errorf("distance(%q, %q, %d) = %d, want %d", c.a, c.b, c.limit, got, c.want)
		}
	}
}

func FuzzParseCSV(f *testing.F) {
	for _, s := range []string{
		"name,address\nsw-1,10.0.0.1\n",
		"name,address,kind,site,owner,tags,notes\nsw-1,10.0.0.1,switch,hq,it,a;b,\"x, y\"\n",
		"name,address\n\"sw-1,10.0.0.1\n",
		"\ufeffName,ADDRESS,profile\nsw-1,::1,branch\n",
		"name,address,notes\nsw-1,10.0.0.1,\"a\"\"b\"\n",
	} {
		f.Add(s)
	}
	cfg := testConfig()
	f.Fuzz(func(t *testing.T, s string) {
		rows, err := parseCSV(strings.NewReader(s), cfg)
		if err != nil {
			if _, ok := err.(*ImportError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for _, r := range rows {
			if p := r.fields.check(cfg); len(p) > 0 {
				t.Fatalf("row %d accepted with problems %v", r.line, p)
			}
		}
	})
}

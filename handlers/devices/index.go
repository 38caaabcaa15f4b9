package devices

import (
	"net/netip"
	"slices"
	"sort"
	"strings"

	"opsbot/storage"
)

// Query kinds, as Lookup reports them.
const (
	ByName    = "name"
	ByAddress = "address"
	ByCIDR    = "cidr"
	ByTag     = "tag"
	ByPartial = "partial"
)

// Index is an immutable in-memory snapshot of the inventory, built once per
// change, that answers lookups without touching the database.
type Index struct {
	devs   []storage.Device // by name
	lower  []string         // lower-case names, parallel to devs
	byName map[string]int   // lower-case name -> position
	byAddr map[string][]int // address as stored, lower case -> positions
	byTag  map[string][]int
	ips    []ipEntry // sorted by address, for CIDR ranges
}

type ipEntry struct {
	addr netip.Addr
	pos  int
}

// NewIndex builds an index over devs.
func NewIndex(devs []storage.Device) *Index {
	ix := &Index{
		devs:   slices.Clone(devs),
		byName: make(map[string]int, len(devs)),
		byAddr: make(map[string][]int, len(devs)),
		byTag:  map[string][]int{},
	}
	sort.Slice(ix.devs, func(i, j int) bool { return ix.devs[i].Name < ix.devs[j].Name })
	ix.lower = make([]string, len(ix.devs))
	for i, d := range ix.devs {
		ix.lower[i] = strings.ToLower(d.Name)
		ix.byName[ix.lower[i]] = i
		addr := strings.ToLower(d.Address)
		if ip, err := netip.ParseAddr(d.Address); err == nil {
			ip = ip.Unmap()
			addr = ip.String()
			ix.ips = append(ix.ips, ipEntry{ip, i})
		}
		ix.byAddr[addr] = append(ix.byAddr[addr], i)
		for _, t := range d.TagList() {
			ix.byTag[t] = append(ix.byTag[t], i)
		}
	}
	sort.Slice(ix.ips, func(i, j int) bool { return ix.ips[i].addr.Less(ix.ips[j].addr) })
	return ix
}

// Len is how many devices the index holds.
func (ix *Index) Len() int { return len(ix.devs) }

// Get returns the device with exactly this name (case-insensitive).
func (ix *Index) Get(name string) (storage.Device, bool) {
	i, ok := ix.byName[strings.ToLower(name)]
	if !ok {
		return storage.Device{}, false
	}
	return ix.devs[i], true
}

// Names returns every device name.
func (ix *Index) Names() []string {
	out := make([]string, len(ix.devs))
	for i, d := range ix.devs {
		out[i] = d.Name
	}
	return out
}

// Result is the answer to a lookup.
type Result struct {
	// Kind says how the query matched: name, address, cidr, tag or partial.
	Kind string
	// Devices are the first matches, at most the limit asked for.
	Devices []storage.Device
	// Total counts every match.
	Total int
	// Suggestions are close names when nothing matched.
	Suggestions []string
}

// Lookup finds devices by exact name, IP address, CIDR prefix, tag ("tag:x",
// or a plain word that is a tag) or case-insensitive substring of the name,
// in that order of preference. It returns at most limit devices.
func (ix *Index) Lookup(q string, limit int) Result {
	q = strings.TrimSpace(q)
	lq := strings.ToLower(q)
	if limit < 1 {
		limit = 1
	}
	if t, ok := strings.CutPrefix(lq, "tag:"); ok {
		return ix.positions(ByTag, ix.byTag[strings.TrimSpace(t)], limit)
	}
	if i, ok := ix.byName[lq]; ok {
		return ix.positions(ByName, []int{i}, limit)
	}
	if ip, err := netip.ParseAddr(q); err == nil {
		return ix.positions(ByAddress, ix.byAddr[ip.Unmap().String()], limit)
	}
	if pfx, err := netip.ParsePrefix(q); err == nil {
		return ix.prefix(pfx.Masked(), limit)
	}
	if pos, ok := ix.byAddr[lq]; ok {
		return ix.positions(ByAddress, pos, limit)
	}
	if pos, ok := ix.byTag[lq]; ok {
		return ix.positions(ByTag, pos, limit)
	}
	var pos []int
	total := 0
	for i, n := range ix.lower {
		if strings.Contains(n, lq) {
			total++
			if len(pos) < limit {
				pos = append(pos, i)
			}
		}
	}
	r := ix.positions(ByPartial, pos, limit)
	r.Total = total
	if total == 0 {
		r.Suggestions = ix.suggest(lq, 3)
	}
	return r
}

func (ix *Index) positions(kind string, pos []int, limit int) Result {
	r := Result{Kind: kind, Total: len(pos)}
	for _, i := range pos[:min(limit, len(pos))] {
		r.Devices = append(r.Devices, ix.devs[i])
	}
	return r
}

// prefix finds the addresses inside pfx with a binary search over the
// sorted addresses: a /8 over 10,000 devices costs what its matches cost.
func (ix *Index) prefix(pfx netip.Prefix, limit int) Result {
	r := Result{Kind: ByCIDR}
	start := sort.Search(len(ix.ips), func(i int) bool { return !ix.ips[i].addr.Less(pfx.Addr()) })
	for _, e := range ix.ips[start:] {
		if !pfx.Contains(e.addr) {
			break
		}
		r.Total++
		if len(r.Devices) < limit {
			r.Devices = append(r.Devices, ix.devs[e.pos])
		}
	}
	return r
}

// suggest returns up to n names closest to q by edit distance, only those
// close enough to be a plausible typo.
func (ix *Index) suggest(q string, n int) []string {
	type cand struct {
		name string
		dist int
	}
	if len(q) > 128 {
		return nil // no device name is that long
	}
	maxDist := max(2, len(q)/3)
	var cands []cand
	var buf []int
	for i, name := range ix.lower {
		if abs(len(name)-len(q)) > maxDist {
			continue
		}
		if need := 2 * (len(name) + 1); len(buf) < need {
			buf = make([]int, need*2)
		}
		if d := distance(q, name, maxDist, buf); d <= maxDist {
			cands = append(cands, cand{ix.devs[i].Name, d})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].dist < cands[j].dist })
	var out []string
	for _, c := range cands[:min(n, len(cands))] {
		out = append(out, c.name)
	}
	return out
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// distance is the byte-wise Levenshtein distance of a and b (names are
// ASCII), or limit+1 once it is certain to exceed limit. buf is scratch
// space of at least 2*(len(b)+1) ints, reused across calls.
func distance(a, b string, limit int, buf []int) int {
	prev, cur := buf[:len(b)+1], buf[len(b)+1:2*(len(b)+1)]
	for j := range prev {
		prev[j] = j
	}
	// Only cells within limit of the diagonal can stay within limit: a band.
	for i := 1; i <= len(a); i++ {
		lo, hi := max(1, i-limit), min(len(b), i+limit)
		cur[0] = i
		if lo > 1 {
			cur[lo-1] = limit + 1
		}
		best := limit + 1
		if lo == 1 {
			best = cur[0]
		}
		for j := lo; j <= hi; j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			up := limit + 1
			if j <= i-1+limit {
				up = prev[j] + 1
			}
			cur[j] = min(up, cur[j-1]+1, prev[j-1]+cost)
			best = min(best, cur[j])
		}
		if best > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	if abs(len(a)-len(b)) > limit {
		return limit + 1
	}
	return prev[len(b)]
}

// Complete returns up to limit names that start with prefix, then names
// that contain it, case-insensitive, in name order.
func (ix *Index) Complete(prefix string, limit int) []string {
	p := strings.ToLower(strings.TrimSpace(prefix))
	out := make([]string, 0, limit)
	// Names are sorted, so the prefix matches are one contiguous run.
	i := sort.SearchStrings(ix.lower, p)
	for ; i < len(ix.lower) && len(out) < limit && strings.HasPrefix(ix.lower[i], p); i++ {
		out = append(out, ix.devs[i].Name)
	}
	for j := 0; j < len(ix.lower) && len(out) < limit && p != ""; j++ {
		if !strings.HasPrefix(ix.lower[j], p) && strings.Contains(ix.lower[j], p) {
			out = append(out, ix.devs[j].Name)
		}
	}
	return out
}

package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"opsbot/suggest"
)

// maxValues bounds the work of decoding one file, so that a few lines of
// nested aliases cannot make it expand into billions of values.
const maxValues = 1_000_000

// Load reads the configuration file at path and parses it with Parse,
// taking ${VAR} values from the process environment. Problems in the file
// are returned as Problems, which do not name the file: the caller should.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, os.LookupEnv)
}

// Parse reads a configuration from YAML. It expands ${VAR} and
// ${VAR:-default} in values (not keys) with lookupEnv, which may be nil for
// an empty environment, and $$ to $. It fills in defaults and validates the
// result. If anything is wrong it returns a nil Config and Problems listing
// every problem found: YAML syntax (with its line), unknown keys, values of
// the wrong type, and everything Validate reports.
func Parse(data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	root, err := parseYAML(data)
	if err != nil {
		return nil, Problems{{Message: err.Error()}}
	}
	c, ps := decode(root, lookupEnv)
	c.fill()
	ps.addNew(c.validate())
	if len(ps.list) > 0 {
		return nil, c.withHints(ps.result())
	}
	return c, nil
}

// decode decodes root, which may be nil, over the defaults.
func decode(root *yaml.Node, lookupEnv func(string) (string, bool)) (*Config, problems) {
	c := Default()
	d := &decoder{lookup: lookupEnv, unset: map[string][]string{}, budget: maxValues}
	if root != nil {
		d.decode(root, reflect.ValueOf(c).Elem(), "")
	}
	if len(d.unset) > 0 {
		c.unset = d.unset
	}
	return c, d.problems
}

// parseYAML returns the root node of the single document in data, or nil
// if data holds no document.
func parseYAML(data []byte) (root *yaml.Node, err error) {
	defer func() {
		// Bad input must never take the process down, even if it finds a
		// bug in the YAML parser.
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("cannot parse YAML: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, fmt.Errorf("line %d: a second YAML document starts here; keep the configuration in one document", next.Line)
	case !errors.Is(err, io.EOF):
		return nil, syntaxError(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

func syntaxError(err error) error {
	return errors.New("YAML syntax: " + strings.TrimPrefix(err.Error(), "yaml: "))
}

// decoder decodes a yaml.Node tree into a value, checking keys against the
// yaml tags of the target struct types, and collects every problem on the
// way instead of stopping at the first.
type decoder struct {
	problems
	lookup func(string) (string, bool)
	unset  map[string][]string // key path -> unset variables it used
	budget int
	fields map[reflect.Type]*fields
}

// fields describes the keys of a struct type.
type fields struct {
	index map[string]int // key -> field index
	keys  []string       // keys in field order
}

var (
	durationType = reflect.TypeFor[Duration]()
	timeType     = reflect.TypeFor[time.Time]()
)

// addNew adds the problems of vs, leaving out those about a value, or a
// value inside one, that ps already has a problem with: a value that could
// not be decoded is not reported again by Validate.
func (ps *problems) addNew(vs problems) {
	reported := map[string]bool{}
	for _, p := range ps.list {
		reported[p.Path] = true
	}
	for _, p := range vs.list {
		if !coveredBy(p.Path, reported) {
			ps.add(p)
		}
	}
	ps.more += vs.more
}

// coveredBy reports whether path, or a key above it, is in paths.
func coveredBy(path string, paths map[string]bool) bool {
	for p := path; p != ""; p = parent(p) {
		if paths[p] {
			return true
		}
	}
	return false
}

// parent returns the path of the key or list that holds path.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// spend counts n values against the budget and reports whether any is left.
func (d *decoder) spend(n int) bool {
	if d.budget < 0 {
		return false
	}
	d.budget -= n
	if d.budget < 0 {
		d.addf("", "the file is too large once its aliases are expanded (at most %d values)", maxValues)
		return false
	}
	return true
}

// decode decodes n into v, which must be settable; path is v's key path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if !d.spend(1) {
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return
		}
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		// An empty value keeps the default, as if the key were absent.
		switch v.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map:
			v.SetZero()
		}
		return
	}
	switch v.Type() {
	case durationType:
		d.duration(n, v, path)
		return
	case timeType:
		d.time(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(newValue(v.Type().Elem()).Addr())
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Slice:
		d.slice(n, v, path)
	case reflect.Map:
		d.dict(n, v, path)
	case reflect.String:
		if s, ok := d.scalar(n, path); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		d.bool(n, v, path)
	case reflect.Int:
		d.int(n, v, path)
	default:
		panic("config: cannot decode into " + v.Type().String())
	}
}

// newValue returns a new addressable value of type t with its defaults set.
func newValue(t reflect.Type) reflect.Value {
	v := reflect.New(t)
	if d, ok := v.Interface().(defaulter); ok {
		d.setDefaults()
	}
	return v.Elem()
}

// scalar returns the expanded text of a scalar node.
func (d *decoder) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.addf(path, "want a single value, not %s", describe(n))
		return "", false
	}
	s, unset, err := expand(n.Value, d.lookup)
	if err != nil {
		d.addf(path, "%v", err)
		return "", false
	}
	for _, name := range unset {
		if !slices.Contains(d.unset[path], name) {
			d.unset[path] = append(d.unset[path], name)
		}
	}
	return s, true
}

func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	s, ok := d.scalar(n, path)
	if !ok {
		return
	}
	t, err := ParseDuration(s)
	if err != nil {
		d.addf(path, "%v", err)
		return
	}
	v.SetInt(int64(t))
}

func (d *decoder) time(n *yaml.Node, v reflect.Value, path string) {
	s, ok := d.scalar(n, path)
	if !ok {
		return
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		d.addf(path, "want an RFC 3339 time such as 2025-06-01T22:00:00Z, got %q", s)
		return
	}
	v.Set(reflect.ValueOf(t))
}

func (d *decoder) bool(n *yaml.Node, v reflect.Value, path string) {
	s, ok := d.scalar(n, path)
	if !ok {
		return
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on":
		v.SetBool(true)
	case "false", "no", "off":
		v.SetBool(false)
	default:
		d.addf(path, "want true or false, got %q", s)
	}
}

func (d *decoder) int(n *yaml.Node, v reflect.Value, path string) {
	s, ok := d.scalar(n, path)
	if !ok {
		return
	}
	i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || v.OverflowInt(i) {
		d.addf(path, "want a whole number, got %q", s)
		return
	}
	v.SetInt(i)
}

// structure decodes a mapping into a struct, reporting unknown keys.
func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	f := d.fieldsOf(v.Type())
	if n.Kind != yaml.MappingNode {
		d.addf(path, "want a mapping of keys%s, not %s", keyList(f.keys), describe(n))
		return
	}
	for _, p := range d.pairs(n, path, 0) {
		key := p.key.Value
		i, ok := f.index[key]
		if !ok {
			if d.full() {
				d.more++
				continue
			}
			d.addf(join(path, key), "unknown key%s", knownKeys(key, f.keys))
			continue
		}
		d.decode(p.value, v.Field(i), join(path, key))
	}
}

// synonyms are keys other tools use for what opsbot calls otherwise: a
// misspelling of one is suggested opsbot's key when that key exists.
var synonyms = map[string]string{
	"interval":  "every",
	"frequency": "every",
	"period":    "every",
	"cron":      "schedule",
	"retries":   "failures",
	"threshold": "failures",
	"endpoint":  "url",
	"target":    "address",
}

// knownKeys suggests what to write instead of the unknown key.
func knownKeys(key string, keys []string) string {
	if s := didYouMean(key, keys); s != "" {
		return s
	}
	if syn := suggest.Closest(key, slices.Sorted(maps.Keys(synonyms))); syn != "" && slices.Contains(keys, synonyms[syn]) {
		return fmt.Sprintf(" (did you mean %q?)", synonyms[syn])
	}
	if len(keys) <= 24 { // the top level has 21
		return " (known keys: " + strings.Join(keys, ", ") + ")"
	}
	return ""
}

// keyList lists a struct's keys for a message, if they are few.
func keyList(keys []string) string {
	if len(keys) > 16 {
		return ""
	}
	return " (" + strings.Join(keys, ", ") + ")"
}

// slice decodes a sequence into a slice, replacing what the slice held.
func (d *decoder) slice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.addf(path, "want a list%s, not %s", listExample(n, v.Type()), describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, e := range n.Content {
		s.Index(i).Set(newValue(v.Type().Elem()))
		d.decode(e, s.Index(i), index(path, i))
	}
	v.Set(s)
}

// listExample shows a single value as the list it was probably meant to be.
func listExample(n *yaml.Node, t reflect.Type) string {
	if n.Kind != yaml.ScalarNode || t.Elem().Kind() != reflect.String || len(n.Value) > 80 {
		return ""
	}
	return " such as [" + strings.Join(strings.Fields(n.Value), ", ") + "]"
}

// dict decodes a mapping into a map with string keys.
func (d *decoder) dict(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.addf(path, "want a mapping of names to values, not %s", describe(n))
		return
	}
	m := reflect.MakeMap(v.Type())
	for _, p := range d.pairs(n, path, 0) {
		e := newValue(v.Type().Elem())
		d.decode(p.value, e, join(path, p.key.Value))
		m.SetMapIndex(reflect.ValueOf(p.key.Value).Convert(v.Type().Key()), e)
	}
	v.Set(m)
}

// pair is one key and its value in a mapping.
type pair struct {
	key, value *yaml.Node
}

// pairs returns the pairs of mapping n with any merged (<<: *anchor)
// mappings folded in below the keys n sets itself, and reports keys that
// are not plain values or are given twice.
func (d *decoder) pairs(n *yaml.Node, path string, depth int) []pair {
	if !d.spend(len(n.Content) / 2) {
		return nil
	}
	var own, merged []pair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		switch {
		case k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge":
			merged = append(merged, d.merge(v, path, depth+1)...)
		case k.Kind != yaml.ScalarNode:
			d.addf(path, "line %d: a key must be a single word, not %s", k.Line, describe(k))
		case seen[k.Value] != nil:
			d.addf(join(path, k.Value), "given twice (lines %d and %d); keep one", seen[k.Value].Line, k.Line)
		default:
			seen[k.Value] = k
			own = append(own, pair{k, v})
		}
	}
	for _, p := range merged {
		if seen[p.key.Value] == nil {
			seen[p.key.Value] = p.key
			own = append(own, p)
		}
	}
	return own
}

// merge returns the pairs that a << key brings in: those of one mapping,
// or of a list of mappings where earlier ones win.
func (d *decoder) merge(n *yaml.Node, path string, depth int) []pair {
	if depth > 10 {
		d.addf(path, "<< merges are nested too deeply")
		return nil
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		return d.pairs(n, path, depth)
	case yaml.SequenceNode:
		var all []pair
		seen := map[string]bool{}
		for _, e := range n.Content {
			if e.Kind == yaml.AliasNode && e.Alias != nil {
				e = e.Alias
			}
			if e.Kind != yaml.MappingNode {
				d.addf(path, "line %d: << merges mappings only, not %s", e.Line, describe(e))
				continue
			}
			for _, p := range d.pairs(e, path, depth) {
				if !seen[p.key.Value] {
					seen[p.key.Value] = true
					all = append(all, p)
				}
			}
		}
		return all
	}
	d.addf(path, "line %d: << merges mappings only, not %s", n.Line, describe(n))
	return nil
}

// fieldsOf returns the keys of struct type t from its yaml tags.
func (d *decoder) fieldsOf(t reflect.Type) *fields {
	if f, ok := d.fields[t]; ok {
		return f
	}
	f := &fields{index: map[string]int{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		key, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if !sf.IsExported() || key == "" || key == "-" {
			continue
		}
		f.index[key] = i
		f.keys = append(f.keys, key)
	}
	if d.fields == nil {
		d.fields = map[reflect.Type]*fields{}
	}
	d.fields[t] = f
	return f
}

// describe names the kind of a node for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		return "a single value"
	}
	return "this"
}

// withHints adds to each problem the unset environment variables that its
// value referred to.
func (c *Config) withHints(ps Problems) Problems {
	if len(c.unset) == 0 {
		return ps
	}
	out := make(Problems, len(ps))
	for i, p := range ps {
		if names := c.unset[p.Path]; len(names) > 0 {
			p.Message += unsetHint(names)
		}
		out[i] = p
	}
	return out
}

func unsetHint(names []string) string {
	if len(names) == 1 {
		return " (environment variable " + names[0] + " is not set)"
	}
	return " (environment variables " + strings.Join(names[:len(names)-1], ", ") +
		" and " + names[len(names)-1] + " are not set)"
}

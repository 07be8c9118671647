package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Column encodings shared by both engines. The scan destinations are
// pointer-shaped structs, so passing them to Scan does not allocate.

// timeCol scans a NOT NULL time: unix microseconds (SQLite) or a
// timestamptz (PostgreSQL), into UTC.
type timeCol struct{ p *time.Time }

// Scan implements sql.Scanner.
func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*c.p = time.UnixMicro(v).UTC()
	case time.Time:
		*c.p = v.UTC()
	default:
		return fmt.Errorf("store: cannot scan %T into a time", src)
	}
	return nil
}

// nullTimeCol scans a nullable time into *time.Time (nil for NULL).
type nullTimeCol struct{ p **time.Time }

// Scan implements sql.Scanner.
func (c nullTimeCol) Scan(src any) error {
	if src == nil {
		*c.p = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(src); err != nil {
		return err
	}
	*c.p = &t
	return nil
}

// listCol scans a JSON array of strings; an empty array becomes nil, so a
// nil or empty slice written comes back nil.
type listCol struct{ p *[]string }

// Scan implements sql.Scanner.
func (c listCol) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*c.p = nil
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("store: cannot scan %T into a list", src)
	}
	if len(b) == 0 || string(b) == "[]" {
		*c.p = nil
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("store: decode list: %w", err)
	}
	if len(l) == 0 {
		l = nil
	}
	*c.p = l
	return nil
}

// list encodes a string slice as a JSON array ("[]" for nil).
func list(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // a []string always encodes
	return string(b)
}

// metaCol scans audit metadata: JSON object text, or NULL for none. Numbers
// decode as json.Number so re-encoding gives back the very bytes that were
// hashed into the audit chain.
type metaCol struct{ p *map[string]any }

// Scan implements sql.Scanner.
func (c metaCol) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*c.p = nil
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("store: cannot scan %T into metadata", src)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("store: decode metadata: %w", err)
	}
	if len(m) == 0 {
		m = nil
	}
	*c.p = m
	return nil
}

// meta encodes audit metadata (NULL when empty).
func meta(m map[string]any) (any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("store: encode audit metadata: %w", err)
	}
	return string(b), nil
}

// blob encodes bytes, NULL when empty.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nullStr encodes "" as NULL (for unique columns where "" means none).
func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// args collects the arguments of a statement built from optional parts and
// returns each one's placeholder.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// in returns "($i, $j, …)" for vs, which must not be empty.
func (a *args) in(vs []string) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.add(v))
	}
	b.WriteByte(')')
	return b.String()
}

// likeEscaper escapes LIKE wildcards; statements say ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// containsPattern returns the LIKE pattern matching s anywhere, literally.
func containsPattern(s string) string {
	return "%" + likeEscaper.Replace(s) + "%"
}

// dedupe returns l without repeated elements, keeping the first of each.
func dedupe(l []string) []string {
	if len(l) < 2 {
		return l
	}
	out := make([]string, 0, len(l))
	seen := make(map[string]bool, len(l))
	for _, v := range l {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// limit returns n, or def when n is not positive.
func limit(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

package config

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Print writes the effective configuration to w, one GATEHOUSE_NAME=value
// line per setting, sorted by name, in the syntax Load reads. A secret shows
// as [REDACTED] when set and empty when not; its value is never written.
func (c Config) Print(w io.Writer) error {
	var b strings.Builder
	for _, f := range sortedFields() {
		v := f.bind(&c).String() // a secretValue's String redacts
		if strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
			v = strconv.Quote(v) // keep one setting per line
		}
		b.WriteString(f.env() + "=" + v + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Usage writes every setting to w: its flag, kind, variable, default and
// meaning, sorted by variable, for `gatehouse serve --help`.
func Usage(w io.Writer) error {
	var b strings.Builder
	for _, f := range sortedFields() {
		fmt.Fprintf(&b, "  --%s %s\n\t%s", f.flagName(), f.bind(&Config{}).kind(), f.env())
		if f.secret() {
			fmt.Fprintf(&b, " (or %s, --%s-file)", f.fileEnv(), f.flagName())
		}
		if f.def != "" {
			fmt.Fprintf(&b, " (default %s)", f.def)
		}
		fmt.Fprintf(&b, "\n\t%s\n", f.help)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sortedFields() []field {
	s := slices.Clone(fields)
	slices.SortFunc(s, func(a, b field) int { return strings.Compare(a.name, b.name) })
	return s
}

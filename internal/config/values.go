package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/secret"
)

// The kinds of value. Each parses the syntax of a variable or flag and prints
// it back in the same syntax, so Print's output can be loaded again.

type stringValue string

func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }
func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) kind() string       { return "string" }

// secretValue never fails to parse, so no error can carry a secret; String
// redacts.
type secretValue secret.Value

func (v *secretValue) Set(s string) error { *v = secretValue(secret.NewValue(s)); return nil }
func (v *secretValue) String() string     { return secret.Value(*v).String() }
func (v *secretValue) kind() string       { return "secret" }

type durationValue time.Duration

func (v *durationValue) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*v = durationValue(d)
	return nil
}
func (v *durationValue) String() string { return formatDuration(time.Duration(*v)) }
func (v *durationValue) kind() string   { return "duration" }

// parseDuration accepts Go durations (15m, 1h30m) and whole days (30d).
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n >= -106_751 && n <= 106_751 { // within time.Duration
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("not a duration; use a number with a unit such as 10s, 15m, 1h30m or 30d")
	}
	return d, nil
}

// formatDuration writes d compactly: 15m, 720h, 1h30m, 10s, rather than 15m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

type intValue int

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return errors.New("not a whole number; use digits only, such as 12")
	}
	*v = intValue(n)
	return nil
}
func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *intValue) kind() string   { return "int" }

type int64Value int64

func (v *int64Value) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return errors.New("not a whole number; use digits only, such as 65536")
	}
	*v = int64Value(n)
	return nil
}
func (v *int64Value) String() string { return strconv.FormatInt(int64(*v), 10) }
func (v *int64Value) kind() string   { return "int" }

type boolValue bool

func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return errors.New("not a boolean; use true or false")
	}
	*v = boolValue(b)
	return nil
}
func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) kind() string     { return "bool" }
func (v *boolValue) IsBoolFlag() bool { return true } // --password-grant alone means true

// listValue is a comma-separated list; blanks around items and empty items
// are dropped.
type listValue []string

func (v *listValue) Set(s string) error { *v = splitList(s); return nil }
func (v *listValue) String() string     { return strings.Join(*v, ",") }
func (v *listValue) kind() string       { return "list" }

func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// rolesValue is a list in which the single value "none" means no role, so
// that an empty list can be set at all (an empty variable means unset).
type rolesValue []string

func (v *rolesValue) Set(s string) error {
	items := splitList(s)
	for _, item := range items {
		if strings.EqualFold(item, "none") {
			if len(items) > 1 {
				return errors.New(`"none" must stand alone; list roles, or set only none to require MFA of no role`)
			}
			*v = []string{}
			return nil
		}
	}
	*v = items
	return nil
}

func (v *rolesValue) String() string {
	if len(*v) == 0 {
		return "none"
	}
	return strings.Join(*v, ",")
}
func (v *rolesValue) kind() string { return "list" }

// prefixesValue is a comma-separated list of CIDRs; a bare IP address means
// that address alone (/32 or /128).
type prefixesValue []netip.Prefix

func (v *prefixesValue) Set(s string) error {
	var out []netip.Prefix
	var errs []error
	for _, item := range splitList(s) {
		p, err := parsePrefix(item)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, p)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	*v = out
	return nil
}

func (v *prefixesValue) String() string {
	s := make([]string, len(*v))
	for i, p := range *v {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}
func (v *prefixesValue) kind() string { return "list of CIDRs" }

func parsePrefix(s string) (netip.Prefix, error) {
	const form = "use a CIDR such as 10.0.0.0/8 or fd00::/8, or a single IP address"
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR; %s", s, form)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a valid CIDR; %s", s, form)
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Errorf("%q has bits set after the prefix length; write %s for the network, or %s for the one address",
			s, p.Masked(), netip.PrefixFrom(p.Addr(), p.Addr().BitLen()))
	}
	return p, nil
}

type rateValue Rate

func (v *rateValue) Set(s string) error {
	r, err := ParseRate(s)
	if err != nil {
		return err
	}
	*v = rateValue(r)
	return nil
}
func (v *rateValue) String() string { return Rate(*v).String() }
func (v *rateValue) kind() string   { return "rate" }

package apikey

import (
	"hash/crc32"
	"math/big"
	"strings"
	"testing"
)

// reference encodes a key's parts with math/big and hash/crc32, as a second
// implementation of the format to check the fast one against.
func reference(prefix string, b [32]byte) string {
	enc := func(n *big.Int, width int) string {
		var d []byte
		n = new(big.Int).Set(n)
		r := new(big.Int)
		for n.Sign() > 0 {
			n.DivMod(n, big.NewInt(62), r)
			d = append([]byte{base62[r.Int64()]}, d...)
		}
		return strings.Repeat("0", width-len(d)) + string(d)
	}
	body := prefix + "_" + enc(new(big.Int).SetBytes(b[:]), randomLen)
	return body + enc(big.NewInt(int64(crc32.ChecksumIEEE([]byte(body)))), checksumLen)
}

func TestEncodingMatchesReference(t *testing.T) {
	var zero, ones, mixed [32]byte
	for i := range ones {
		ones[i] = 0xff
		mixed[i] = byte(i * 37)
	}
	for _, b := range [][32]byte{zero, ones, mixed} {
		got := string(appendChecksum(appendBase62([]byte("gk_"), b), checksum(string(appendBase62([]byte("gk_"), b)))))
		if want := reference("gk", b); got != want {
			t.Errorf("encoding of %x:\n got %s\nwant %s", b, got, want)
		}
		if _, _, err := Parse(got); err != nil {
			t.Errorf("Parse(%s) = %v", got, err)
		}
	}
}

func TestGenerateParseRoundTrip(t *testing.T) {
	for _, prefix := range []string{"gk", "kx_live", "a", "a123456789abcdef_0123456789abcdef"} {
		raw, err := Generate(prefix)
		if err != nil {
			t.Fatalf("Generate(%q): %v", prefix, err)
		}
		if len(raw) != len(prefix)+1+bodyLen {
			t.Errorf("len(%s) = %d", raw, len(raw))
		}
		p, random, err := Parse(raw)
		if err != nil || p != prefix || len(random) != randomLen || raw != prefix+"_"+random+raw[len(raw)-checksumLen:] {
			t.Errorf("Parse(%s) = %q, %q, %v", raw, p, random, err)
		}
		if h := Hint(raw); h != prefix+"_"+random[:4] {
			t.Errorf("Hint(%s) = %q", raw, h)
		}
	}
	a, _ := Generate("gk")
	b, _ := Generate("gk")
	if a == b {
		t.Fatal("two keys are equal")
	}
	for _, bad := range []string{"", "GK", "1gk", "gk_", "gk__x", "a_b_c", "gk-live", "abcdefghijklmnopq", "a_0123456789abcdefg"} {
		if _, err := Generate(bad); err == nil {
			t.Errorf("Generate(%q) succeeded", bad)
		}
	}
}

func TestChecksumRejectsEverySingleCharChange(t *testing.T) {
	raw, err := Generate("kx_live")
	if err != nil {
		t.Fatal(err)
	}
	alphabet := base62 + "_-.~ \x00"
	for i := range len(raw) {
		for j := range len(alphabet) {
			c := alphabet[j]
			if c == raw[i] {
				continue
			}
			changed := raw[:i] + string(c) + raw[i+1:]
			if _, _, err := Parse(changed); err == nil {
				t.Fatalf("Parse accepted %s (position %d changed to %q)", changed, i, c)
			}
		}
	}
}

func TestParseRejectsMalformed(t *testing.T) {
	good, err := Generate("gk")
	if err != nil {
		t.Fatal(err)
	}
	body := good[3:]
	for name, raw := range map[string]string{
		"empty":               "",
		"body only":           body,
		"no prefix":           "_" + body,
		"short":               good[:len(good)-1],
		"long":                good + "0",
		"upper-case prefix":   "GK_" + body,
		"digit first":         "1k_" + body,
		"two underscores":     "a_b_c_" + body,
		"non-base62":          good[:10] + "-" + good[11:],
		"CRLF":                good + "\r\n",
		"leading space":       " " + good,
		"NUL":                 good[:5] + "\x00" + good[6:],
		"Cyrillic look-alike": "gk_" + "\u0430" + body[2:],
		"full-width":          "ｇｋ_" + body,
		"dots":                "gk_" + strings.Repeat(".", bodyLen),
		"dot-dot":             "../" + good,
		"very long":           strings.Repeat("a", 1<<16) + "_" + body,
		"prefix too long":     strings.Repeat("a", 17) + "_" + body,
	} {
		if _, _, err := Parse(raw); err == nil {
			t.Errorf("%s: Parse(%q) succeeded", name, raw)
		}
	}
}

func FuzzParse(f *testing.F) {
	good, err := Generate("kx_live")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good, good + "\r\n", good[:20] + "\x00" + good[21:], "gk_" + strings.Repeat("0", bodyLen),
		"gk_" + strings.Repeat(".", bodyLen), "../" + good, "gк_" + good[3:], strings.Repeat("a", 4096), "", "_", "gk_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		prefix, random, err := Parse(raw)
		if err != nil {
			return
		}
		if !ValidPrefix(prefix) || len(random) != randomLen {
			t.Fatalf("Parse(%q) = %q, %q", raw, prefix, random)
		}
		body := prefix + "_" + random
		if want := string(appendChecksum([]byte(body), checksum(body))); raw != want {
			t.Fatalf("Parse accepted %q; the well-formed key is %q", raw, want)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	raw, _ := Generate("gk")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

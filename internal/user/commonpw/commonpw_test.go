package commonpw

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// shipped returns the entries of the embedded file, as plain strings.
func shipped(t testing.TB) []string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(compressed))
	if err != nil {
		t.Fatal(err)
	}
	var list []string
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		list = append(list, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return list
}

func TestKnownCommonPasswords(t *testing.T) {
	for _, pw := range []string{
		"password", "12345678", "123456789012", "qwertyuiop123", "qwertyuiop",
		"iloveyou", "password1", "passw0rd", "p@ssw0rd", "trustno1",
		"1q2w3e4r5t", "football123", "letmein123",
	} {
		if !Contains(pw) {
			t.Errorf("Contains(%q) = false, want true", pw)
		}
	}
}

func TestCaseAndCompatibilityForms(t *testing.T) {
	for _, pw := range []string{
		"PASSWORD", "Password", "pAsSwOrD", "QwertyUiop123", "P@SSW0RD",
		"ｐａｓｓｗｏｒｄ", // full-width: NFKC maps it to "password"
	} {
		if !Contains(pw) {
			t.Errorf("Contains(%q) = false, want true", pw)
		}
	}
}

func TestNotContained(t *testing.T) {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
	for range 100 {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		for i := range b {
			b[i] = alphabet[b[i]%byte(len(alphabet))]
		}
		if pw := string(b); Contains(pw) {
			t.Errorf("Contains(%q) = true for a random string", pw)
		}
	}
	for _, pw := range []string{
		"", "123456", "qwerty", // short: not shipped (below MinLength)
		"correct horse battery staple, but longer",
		"\x00\x00\x00\x00\x00\x00\x00\x00",
		"\xff\xfe invalid utf-8 \xff",
		strings.Repeat("a", 10000),
		"~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~", // after every entry
		"        ",                         // before every entry
	} {
		if Contains(pw) {
			t.Errorf("Contains(%q) = true, want false", pw)
		}
	}
}

func TestLen(t *testing.T) {
	// SPEC §4 asks for at least 100,000; the shipped list has ~475,000.
	if n := Len(); n < 100_000 {
		t.Fatalf("Len() = %d, want >= 100000", n)
	}
	if got, want := Len(), len(shipped(t)); got != want {
		t.Fatalf("Len() = %d, file has %d lines", got, want)
	}
}

// TestShippedList checks the file as gen writes it: sorted, distinct,
// normalized as Contains normalizes, at least MinLength characters; and
// that Contains agrees with a plain binary search for every entry and for
// near misses on both sides of each.
func TestShippedList(t *testing.T) {
	list := shipped(t)
	for i, e := range list {
		if i > 0 && list[i-1] >= e {
			t.Fatalf("line %d: %q after %q: not sorted or not unique", i+1, e, list[i-1])
		}
		if normalize(e) != e {
			t.Fatalf("line %d: %q is not normalized (%q)", i+1, e, normalize(e))
		}
		if !utf8.ValidString(e) || utf8.RuneCountInString(e) < MinLength {
			t.Fatalf("line %d: %q is shorter than %d characters or not UTF-8", i+1, e, MinLength)
		}
	}
	s, err := parse(compressed)
	if err != nil {
		t.Fatal(err)
	}
	step := 1
	if testing.Short() || raceEnabled {
		step = 7
	}
	for i := 0; i < len(list); i += step {
		e := list[i]
		if !s.contains(e) {
			t.Fatalf("contains(%q) = false for entry %d", e, i)
		}
		for _, probe := range []string{e + "0", e + "~", e[:len(e)-1], e[:len(e)-1] + "!"} {
			_, want := slices.BinarySearch(list, probe)
			if got := s.contains(probe); got != want {
				t.Fatalf("contains(%q) = %v, want %v", probe, got, want)
			}
		}
	}
}

func TestParseRejectsBadLists(t *testing.T) {
	for name, text := range map[string]string{
		"empty":      "",
		"unsorted":   "password2\npassword1\n",
		"duplicate":  "password1\npassword1\n",
		"empty line": "password1\n\npassword2\n",
		"too long":   strings.Repeat("x", maxEntryLen+1) + "\n",
	} {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write([]byte(text))
		zw.Close()
		if _, err := parse(buf.Bytes()); err == nil {
			t.Errorf("%s: parse succeeded, want an error", name)
		}
	}
	if _, err := parse([]byte("not gzip")); err == nil {
		t.Error("parse of non-gzip data succeeded")
	}
}

// TestHeapCost measures what the loaded set keeps on the heap, and fails
// past a budget: the whole server must idle under 40 MB RSS.
func TestHeapCost(t *testing.T) {
	const budget = 3_300_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := parse(compressed)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	exact := cap(s.data) + 4*cap(s.blocks)
	t.Logf("%d entries: %d bytes retained on the heap (data %d + block index %d), %d bytes allocated while loading, %d bytes compressed in the binary",
		s.n, heap, cap(s.data), 4*cap(s.blocks), after.TotalAlloc-before.TotalAlloc, len(compressed))
	runtime.KeepAlive(s)
	if exact > budget || heap > budget+64<<10 {
		t.Errorf("set costs %d bytes of heap (exact %d), budget %d", heap, exact, budget)
	}
}

func BenchmarkContains(b *testing.B) {
	Len() // load outside the timer
	b.Run("hit", func(b *testing.B) {
		for b.Loop() {
			Contains("qwertyuiop123")
		}
	})
	b.Run("miss", func(b *testing.B) {
		for b.Loop() {
			Contains("vZ3q-Hk8_pLm2xRt9wQe5yNc7uJb4sDf")
		}
	})
	b.Run("mixed-case", func(b *testing.B) {
		for b.Loop() {
			Contains("PassWord123")
		}
	})
}

func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parse(compressed); err != nil {
			b.Fatal(err)
		}
	}
}

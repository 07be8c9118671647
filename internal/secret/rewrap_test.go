package secret_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/secret"
)

// memKind is a StoredKind over a map, for the tests of RewrapStored: the
// real stores are tested through the packages that own each kind.
type memKind struct {
	rows    map[string]string
	updates int
	lose    string // an ID whose Update reports the row changed
}

func (m *memKind) kind() secret.StoredKind {
	return secret.StoredKind{
		What: "thing",
		List: func(after string, limit int) ([]secret.Stored, error) {
			var out []secret.Stored
			for _, id := range slices.Sorted(maps.Keys(m.rows)) {
				if id > after && len(out) < limit {
					out = append(out, secret.Stored{ID: id, Sealed: m.rows[id]})
				}
			}
			return out, nil
		},
		AD: func(id string) string { return "thing:" + id },
		Update: func(v secret.Stored, fresh string) (bool, error) {
			if v.ID == m.lose || m.rows[v.ID] != v.Sealed {
				return false, nil
			}
			m.updates++
			m.rows[v.ID] = fresh
			return true, nil
		},
	}
}

func TestRewrapStored(t *testing.T) {
	oldKR, oldKey := newKeyring(t)
	kr, _ := newKeyring(t, oldKey)
	m := &memKind{rows: map[string]string{}}
	// 1200 values under the old key (more than a page, and a progress
	// report), 3 already under the current one.
	for i := range 1203 {
		id := fmt.Sprintf("id%04d", i)
		src := oldKR
		if i%401 == 0 {
			src = kr
		}
		m.rows[id], _ = src.Seal([]byte("v"+id), "thing:"+id)
	}
	before := maps.Clone(m.rows)

	n, err := kr.RewrapStored(m.kind(), secret.RewrapOptions{DryRun: true})
	if err != nil || n != 1200 || m.updates != 0 || !maps.Equal(m.rows, before) {
		t.Fatalf("dry run = %d, %v with %d updates; want 1200 and no change", n, err, m.updates)
	}
	var progress []int
	n, err = kr.RewrapStored(m.kind(), secret.RewrapOptions{Progress: func(done int) { progress = append(progress, done) }})
	if err != nil || n != 1200 || m.updates != 1200 {
		t.Fatalf("rewrap = %d, %v with %d updates; want 1200", n, err, m.updates)
	}
	if !slices.Equal(progress, []int{1000}) {
		t.Errorf("progress reports %v, want [1000]", progress)
	}
	for id, sealed := range m.rows {
		if kr.NeedsRewrap(sealed) {
			t.Fatalf("%s is still under another key", id)
		}
		if pt, err := kr.Open(sealed, "thing:"+id); err != nil || string(pt) != "v"+id {
			t.Fatalf("%s opens to %q, %v", id, pt, err)
		}
	}
	if n, err := kr.RewrapStored(m.kind(), secret.RewrapOptions{}); err != nil || n != 0 {
		t.Fatalf("second rewrap = %d, %v; want 0", n, err)
	}
}

func TestRewrapStoredRefuses(t *testing.T) {
	oldKR, oldKey := newKeyring(t)
	kr, _ := newKeyring(t, oldKey)
	stranger, _ := newKeyring(t)
	seal := func(kr *secret.Keyring, id, ad string) string {
		s, err := kr.Seal([]byte("plaintext-"+id), ad)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, c := range []struct {
		name       string
		bad        func() string // the value of row "b"
		unknownKey bool
		want       string
	}{
		{"under a key not given", func() string { return seal(stranger, "b", "thing:b") }, true,
			"thing b is sealed under master key " + stranger.KeyID() + ", which is none of the keys given (current " + kr.KeyID() + ")"},
		{"copied from another row", func() string { return seal(oldKR, "a", "thing:a") }, false,
			"thing b does not open under master key " + oldKR.KeyID() + ", which was given: it is damaged or was copied from another row"},
		{"not sealed", func() string { return "plaintext-b" }, false, "thing b is not a sealed value"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := &memKind{rows: map[string]string{"a": seal(oldKR, "a", "thing:a"), "b": c.bad(), "c": seal(oldKR, "c", "thing:c")}}
			_, err := kr.RewrapStored(m.kind(), secret.RewrapOptions{DryRun: true})
			var re *secret.RewrapError
			if !errors.As(err, &re) || err.Error() != c.want || re.UnknownKey() != c.unknownKey || !errors.Is(err, secret.ErrDecrypt) {
				t.Fatalf("err = %v, want a RewrapError %q (unknown key %v)", err, c.want, c.unknownKey)
			}
			if strings.Contains(err.Error(), "plaintext") || strings.Contains(err.Error(), m.rows["b"]) {
				t.Fatalf("the error shows the value: %v", err)
			}
			if _, err := kr.RewrapStored(m.kind(), secret.RewrapOptions{}); !errors.As(err, &re) || re.ID != "b" {
				t.Fatalf("rewrap err = %v", err)
			}
		})
	}

	// A row that changed under it is an error, not silently skipped.
	m := &memKind{rows: map[string]string{"a": seal(oldKR, "a", "thing:a")}, lose: "a"}
	if _, err := kr.RewrapStored(m.kind(), secret.RewrapOptions{}); err == nil || !strings.Contains(err.Error(), "thing a changed") {
		t.Fatalf("lost update: err = %v", err)
	}
}

func TestOpenNamesTheKeys(t *testing.T) {
	_, prevKey := newKeyring(t)
	kr, _ := newKeyring(t, prevKey)
	prev, _ := secret.NewKeyring(prevKey)
	stranger, _ := newKeyring(t)
	sealed, _ := stranger.Seal([]byte("v"), "ad")
	_, err := kr.Open(sealed, "ad")
	var uk *secret.UnknownKeyError
	if !errors.As(err, &uk) || !errors.Is(err, secret.ErrDecrypt) || uk.KeyID != stranger.KeyID() ||
		!slices.Equal(uk.Held, []string{kr.KeyID(), prev.KeyID()}) {
		t.Fatalf("err = %#v", err)
	}
	want := "sealed under master key " + stranger.KeyID() + ", which is not among the keys given (current " + kr.KeyID() + ", previous " + prev.KeyID() + ")"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("err = %q, want it to say %q", err, want)
	}
	if got := secret.SealedKeyID(sealed); got != stranger.KeyID() {
		t.Errorf("SealedKeyID = %q", got)
	}
	if got := secret.SealedKeyID("gh1"); got != "" {
		t.Errorf("SealedKeyID of a fragment = %q", got)
	}
}

func TestParseMasterKeys(t *testing.T) {
	a, b := secret.RandomBytes(32), secret.RandomBytes(32)
	for _, s := range []string{
		secret.EncodeMasterKey(a) + "," + secret.EncodeMasterKey(b),
		" " + secret.EncodeMasterKey(a) + " , " + secret.EncodeMasterKey(b) + ",",
		secret.EncodeMasterKey(a) + "\n" + secret.EncodeMasterKey(b) + "\n",
	} {
		keys, err := secret.ParseMasterKeys(s)
		if err != nil || len(keys) != 2 || string(keys[0]) != string(a) || string(keys[1]) != string(b) {
			t.Errorf("ParseMasterKeys(%q) = %d keys, %v", s, len(keys), err)
		}
	}
	if keys, err := secret.ParseMasterKeys(""); err != nil || len(keys) != 0 {
		t.Errorf("ParseMasterKeys of nothing = %v, %v", keys, err)
	}
	_, err := secret.ParseMasterKeys(secret.EncodeMasterKey(a) + ",hunter2hunter2")
	if err == nil || !strings.Contains(err.Error(), "key 2 of 2") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a bad second key: %v", err)
	}
}

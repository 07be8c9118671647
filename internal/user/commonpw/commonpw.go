// Package commonpw is the list of common and breached passwords that the
// password policy refuses (SPEC §4). The list ships inside the binary as
// passwords.txt.gz, built by ./gen from public lists; docs/common-passwords.md
// says which ones, under which licences, and how to rebuild it.
//
// Every entry is lower-case NFKC (see normalize) and at least MinLength
// characters long: shorter passwords are refused by the policy's length rule
// before this list matters, so they are not shipped.
//
// The list loads on first use, once, into a front-coded sorted blob (about
// 3 MB of heap for ~475,000 entries) instead of a map of strings (which would
// take well over 30 MB).
package commonpw

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"golang.org/x/text/unicode/norm"
)

// MinLength is the length, in characters, of the shortest entry: passwords
// shorter than this are not on the list (Gatehouse's minimum password length
// cannot be set below it).
const MinLength = 8

// maxEntryLen bounds an entry in bytes (the policy's maximum is 256
// characters); it keeps a corrupt file from passing as a list.
const maxEntryLen = 1024

// blockSize is the number of entries per front-coded block: a lookup binary
// searches the blocks' first entries, then decodes at most one block.
const blockSize = 32

//go:embed passwords.txt.gz
var compressed []byte

// Contains reports whether password (any case) is on the list. The set loads
// lazily once (sync.OnceValue) into memory-efficient form. password is
// normalized as the list was: NFKC, lower case, NFKC again, so "PassWord123"
// and its full-width form match "password123".
func Contains(password string) bool { return load().contains(normalize(password)) }

// Len returns the number of entries.
func Len() int { return load().n }

var load = sync.OnceValue(func() *set {
	s, err := parse(compressed)
	if err != nil {
		// The file is a build artifact checked by this package's tests.
		panic("commonpw: embedded passwords.txt.gz: " + err.Error())
	}
	return s
})

// normalize maps a password to its form on the list. gen/main.go has a copy
// that must stay identical; TestShippedList checks every entry against this
// one.
func normalize(s string) string {
	return norm.NFKC.String(strings.ToLower(norm.NFKC.String(s)))
}

// set is a sorted list of distinct strings, front-coded: entries are cut into
// blocks of blockSize; within a block each entry is stored as
// uvarint(bytes shared with the previous entry), uvarint(len(rest)), rest.
// The first entry of a block shares nothing, so it can be read on its own.
type set struct {
	data   []byte   // the encoded blocks, back to back
	blocks []uint32 // offset in data of each block
	n      int      // number of entries
}

// parse builds a set from a gzip-compressed, sorted, newline-terminated list
// of distinct entries. It reads the file twice (first to size the buffers
// exactly, then to fill them) so that loading leaves no garbage behind but
// the decompressor's buffers.
func parse(gz []byte) (*set, error) {
	var size, n int
	err := eachEntry(gz, func(prev, cur []byte, i int) {
		size += encodedLen(prev, cur, i)
		n++
	})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errors.New("empty list")
	}
	s := &set{
		data:   make([]byte, 0, size),
		blocks: make([]uint32, 0, (n+blockSize-1)/blockSize),
		n:      n,
	}
	err = eachEntry(gz, func(prev, cur []byte, i int) {
		if i%blockSize == 0 {
			s.blocks = append(s.blocks, uint32(len(s.data))) // #nosec G115 -- eachEntry keeps the size under 2 GiB
		}
		p := shared(prev, cur, i)
		s.data = appendLen(s.data, p)
		s.data = appendLen(s.data, len(cur)-p)
		s.data = append(s.data, cur[p:]...)
	})
	if err != nil {
		return nil, err
	}
	if len(s.data) != size {
		return nil, errors.New("list changed between passes")
	}
	return s, nil
}

// eachEntry calls fn with each entry of the list (and the previous one),
// checking that entries are non-empty, bounded and strictly increasing.
func eachEntry(gz []byte, fn func(prev, cur []byte, i int)) error {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return err
	}
	defer zr.Close()
	sc := bufio.NewScanner(zr)
	var prevBuf [maxEntryLen]byte
	prev := prevBuf[:0]
	total := 0
	for i := 0; sc.Scan(); i++ {
		cur := sc.Bytes()
		switch {
		case len(cur) == 0 || len(cur) > maxEntryLen:
			return fmt.Errorf("line %d: entry of %d bytes", i+1, len(cur))
		case i > 0 && bytes.Compare(prev, cur) >= 0:
			return fmt.Errorf("line %d: not sorted or not unique", i+1)
		}
		if total += len(cur) + 2*binary.MaxVarintLen16; total > 1<<31 {
			return errors.New("list too large")
		}
		fn(prev, cur, i)
		prev = append(prev[:0], cur...)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return zr.Close()
}

// shared returns how many leading bytes entry i (cur) takes from the previous
// entry: none at the start of a block.
func shared(prev, cur []byte, i int) int {
	if i%blockSize == 0 {
		return 0
	}
	p := 0
	for p < len(prev) && p < len(cur) && prev[p] == cur[p] {
		p++
	}
	return p
}

// encodedLen is the number of bytes that entry i takes in set.data.
func encodedLen(prev, cur []byte, i int) int {
	var tmp [2 * binary.MaxVarintLen64]byte
	p := shared(prev, cur, i)
	return len(appendLen(appendLen(tmp[:0], p), len(cur)-p)) + len(cur) - p
}

// appendLen appends the length n (>= 0) as a uvarint.
func appendLen(b []byte, n int) []byte {
	return binary.AppendUvarint(b, uint64(n)) // #nosec G115 -- a length, never negative
}

// entry decodes the entry at data[off:] onto cur (which holds the previous
// entry of the block) and returns it with the offset of the next one.
func (s *set) entry(off int, cur []byte) ([]byte, int) {
	p, k := binary.Uvarint(s.data[off:])
	off += k
	l, k := binary.Uvarint(s.data[off:])
	off += k
	cur = append(cur[:p], s.data[off:off+int(l)]...) // #nosec G115 -- lengths bounded by maxEntryLen at load
	return cur, off + int(l)                         // #nosec G115 -- idem
}

// head returns the first entry of block b, without copying.
func (s *set) head(b int) []byte {
	off := int(s.blocks[b])
	_, k := binary.Uvarint(s.data[off:]) // shared: always 0
	off += k
	l, k := binary.Uvarint(s.data[off:])
	off += k
	return s.data[off : off+int(l)] // #nosec G115 -- bounded by maxEntryLen at load
}

func (s *set) contains(key string) bool {
	if len(key) < MinLength || len(key) > maxEntryLen {
		return false // fewer bytes than MinLength means fewer characters too
	}
	// The first block whose first entry is greater than key; key can only be
	// in the block before it.
	b := sort.Search(len(s.blocks), func(i int) bool { return string(s.head(i)) > key })
	if b == 0 {
		return false
	}
	b--
	end := len(s.data)
	if b+1 < len(s.blocks) {
		end = int(s.blocks[b+1])
	}
	var buf [64]byte
	cur := buf[:0]
	for off := int(s.blocks[b]); off < end; {
		cur, off = s.entry(off, cur)
		if string(cur) >= key {
			return string(cur) == key // sorted: past key, it is not there
		}
	}
	return false
}

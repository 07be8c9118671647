// Command gen builds passwords.txt.gz, the common-password list that package
// commonpw embeds, from local copies of public password lists. It never
// downloads anything: fetch the sources first (docs/common-passwords.md says
// which packages and files, and the exact command).
//
//	go run ./internal/user/commonpw/gen -o internal/user/commonpw/passwords.txt.gz SOURCE...
//
// Each SOURCE is a text file with one password a line (optionally gzip
// compressed, by a .gz suffix) or a .json file holding one array of strings.
// Lines starting with "#!comment:" (John the Ripper's convention) are skipped,
// as are empty lines, invalid UTF-8 and entries shorter than -min characters.
// Every entry is normalized exactly as commonpw.Contains normalizes its
// argument (NFKC, lower case, NFKC again); the result is deduplicated, sorted
// bytewise and written one entry a line, gzip compressed with an empty header
// (no name, zero mtime), so the same sources give the same file.
//
// It reports on stderr, for each source in argument order, how many entries
// it had, how many survived normalization and filtering, and how many of
// those no earlier source had.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func main() {
	out := flag.String("o", "passwords.txt.gz", "output file")
	minLen := flag.Int("min", 8, "drop entries shorter than this many characters (after normalization)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: gen [-o FILE] [-min N] SOURCE...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*out, *minLen, flag.Args(), os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out string, minLen int, sources []string, log io.Writer) error {
	seen := make(map[string]struct{})
	for _, path := range sources {
		entries, err := readSource(path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		kept := make(map[string]struct{})
		added := 0
		for _, e := range entries {
			if !utf8.ValidString(e) || strings.ContainsAny(e, "\r\n") {
				continue
			}
			n := normalize(e)
			if utf8.RuneCountInString(n) < minLen {
				continue
			}
			kept[n] = struct{}{}
			if _, ok := seen[n]; !ok {
				seen[n] = struct{}{}
				added++
			}
		}
		fmt.Fprintf(log, "%s: %d entries, %d kept (unique, normalized, >= %d chars), %d new\n",
			path, len(entries), len(kept), minLen, added)
	}
	list := make([]string, 0, len(seen))
	for s := range seen {
		list = append(list, s)
	}
	slices.Sort(list)

	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	// gzip.Writer's zero Header has no name, no comment and a zero mtime.
	for _, s := range list {
		if _, err := io.WriteString(zw, s+"\n"); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil { // #nosec G306 -- a public word list committed to the repo
		return err
	}
	fmt.Fprintf(log, "%s: %d entries, %d bytes\n", out, len(list), buf.Len())
	return nil
}

// normalize must stay identical to commonpw's normalize; commonpw's tests
// check that every shipped entry is unchanged by it.
func normalize(s string) string {
	return norm.NFKC.String(strings.ToLower(norm.NFKC.String(s)))
}

// readSource returns the raw entries of one source file.
func readSource(path string) ([]string, error) {
	f, err := os.Open(path) // #nosec G304 -- the maintainer names the source files
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	name := path
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
		name = strings.TrimSuffix(name, ".gz")
	}
	if filepath.Ext(name) == ".json" {
		var list []string
		if err := json.NewDecoder(r).Decode(&list); err != nil {
			return nil, fmt.Errorf("want a JSON array of strings: %w", err)
		}
		return list, nil
	}
	var list []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" || strings.HasPrefix(line, "#!comment:") {
			continue
		}
		list = append(list, line)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, errors.New("no entries")
	}
	return list, nil
}

package user

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
)

// ImportRecord is one user of an import file (SPEC Appendix A).
type ImportRecord struct {
	Line         int      `json:"-"`
	Username     string   `json:"username"`
	Email        string   `json:"email"`
	DisplayName  string   `json:"display_name"`
	PasswordHash string   `json:"password_hash"`
	Roles        []string `json:"roles"`
	Groups       []string `json:"groups"`
	Status       string   `json:"status"`
}

// ImportProblem is a line that cannot be imported, with the reason.
type ImportProblem struct {
	Line   int
	Reason string
}

func (p ImportProblem) String() string { return fmt.Sprintf("line %d: %s", p.Line, p.Reason) }

// Limits of an import file.
const (
	maxImportLine  = 64 << 10
	maxImportUsers = 1_000_000
)

// ParseImport reads JSON lines or CSV (with a header row naming the columns
// of ImportRecord; roles and groups separated by ";" or ","). The format is
// chosen from the first non-blank byte: "{" means JSON lines. Every bad line
// is reported with its number; the good records are returned either way.
func ParseImport(r io.Reader) ([]ImportRecord, []ImportProblem, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := br.Peek(1)
	for err == nil && (first[0] == ' ' || first[0] == '\n' || first[0] == '\r' || first[0] == '\t') {
		_, _ = br.ReadByte()
		first, err = br.Peek(1)
	}
	if errors.Is(err, io.EOF) {
		return nil, nil, errors.New("the import file is empty")
	} else if err != nil {
		return nil, nil, err
	}
	if first[0] == '{' {
		return parseJSONLines(br)
	}
	return parseCSV(br)
}

func parseJSONLines(r io.Reader) ([]ImportRecord, []ImportProblem, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxImportLine)
	var out []ImportRecord
	var probs []ImportProblem
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var rec ImportRecord
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			probs = append(probs, ImportProblem{line, "not a JSON object of the import fields: " + clipReason(err.Error())})
			continue
		}
		rec.Line = line
		out = append(out, rec)
		if len(out) > maxImportUsers {
			return nil, nil, fmt.Errorf("more than %d users; split the file", maxImportUsers)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("line %d: %w (lines may be at most 64 KiB)", line+1, err)
	}
	return out, probs, nil
}

func parseCSV(r io.Reader) ([]ImportRecord, []ImportProblem, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("line 1: cannot read the CSV header: %w", err)
	}
	cols := map[string]int{}
	known := []string{"username", "email", "display_name", "password_hash", "roles", "groups", "status"}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if !contains(known, h) {
			return nil, nil, fmt.Errorf("line 1: unknown column %q; the columns are %s", h, strings.Join(known, ", "))
		}
		cols[h] = i
	}
	if _, ok := cols["username"]; !ok {
		return nil, nil, errors.New("line 1: the header needs a username column")
	}
	var out []ImportRecord
	var probs []ImportProblem
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				probs = append(probs, ImportProblem{pe.Line, clipReason(pe.Err.Error())})
				continue
			}
			return nil, nil, err
		}
		if len(row) != len(header) {
			probs = append(probs, ImportProblem{line, fmt.Sprintf("has %d fields, the header %d", len(row), len(header))})
			continue
		}
		get := func(name string) string {
			if i, ok := cols[name]; ok {
				return strings.TrimSpace(row[i])
			}
			return ""
		}
		out = append(out, ImportRecord{Line: line, Username: get("username"), Email: get("email"), DisplayName: get("display_name"),
			PasswordHash: get("password_hash"), Roles: splitList(get("roles")), Groups: splitList(get("groups")), Status: get("status")})
		if len(out) > maxImportUsers {
			return nil, nil, fmt.Errorf("more than %d users; split the file", maxImportUsers)
		}
	}
	return out, probs, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func clipReason(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// ImportResult says what an import did (or would do, in a dry run).
type ImportResult struct {
	Imported    int
	Problems    []ImportProblem
	Activations map[string]string // username → activation token, for pending users
}

// Import validates every record (format, policy of names, roles and groups,
// hash format, duplicates in the file and in the store) and then creates the
// users. By default it is all or nothing: any problem imports nobody. With
// keepGoing the good records are imported and the bad ones reported. dryRun
// validates only. Imported users keep their bcrypt or argon2 hashes and are
// rehashed to argon2id at their first sign-in.
func (s *Service) Import(ctx context.Context, recs []ImportRecord, problems []ImportProblem, dryRun, keepGoing bool) (ImportResult, error) {
	res := ImportResult{Problems: problems, Activations: map[string]string{}}
	seenUser, seenEmail := map[string]int{}, map[string]int{}
	var ok []NewUser
	var lines []int
	for _, r := range recs {
		in := NewUser{Username: r.Username, Email: r.Email, DisplayName: r.DisplayName, PasswordHash: r.PasswordHash,
			Roles: r.Roles, Groups: r.Groups, Status: Status(r.Status)}
		if reason := s.checkImport(ctx, &in, seenUser, seenEmail, r.Line); reason != "" {
			res.Problems = append(res.Problems, ImportProblem{r.Line, reason})
			continue
		}
		ok = append(ok, in)
		lines = append(lines, r.Line)
	}
	if dryRun || (len(res.Problems) > 0 && !keepGoing) {
		if !dryRun {
			return res, fmt.Errorf("%d line(s) have problems; nothing was imported (fix them, or pass --continue to import the rest)", len(res.Problems))
		}
		res.Imported = len(ok)
		return res, nil
	}
	create := func(ctx context.Context, i int) error {
		u, token, err := s.Create(ctx, ok[i])
		if err != nil {
			return err
		}
		if token != "" {
			res.Activations[u.Username] = token
		}
		res.Imported++
		return nil
	}
	if !keepGoing {
		err := s.store.InTx(ctx, func(ctx context.Context) error {
			for i := range ok {
				if err := create(ctx, i); err != nil {
					return fmt.Errorf("line %d: %w", lines[i], err)
				}
			}
			return s.audit.Record(ctx, audit.Event{Action: "user.imported", Target: audit.Ref{Type: audit.TypeUser, ID: "*"},
				Metadata: map[string]any{"count": len(ok)}})
		})
		if err != nil {
			res.Imported, res.Activations = 0, map[string]string{}
		}
		return res, err
	}
	for i := range ok {
		if err := create(ctx, i); err != nil {
			res.Problems = append(res.Problems, ImportProblem{lines[i], describe(err)})
		}
	}
	err := s.audit.Record(ctx, audit.Event{Action: "user.imported", Target: audit.Ref{Type: audit.TypeUser, ID: "*"},
		Metadata: map[string]any{"count": res.Imported, "skipped": len(res.Problems)}})
	return res, err
}

func (s *Service) checkImport(ctx context.Context, in *NewUser, seenUser, seenEmail map[string]int, line int) string {
	switch in.Status {
	case "", StatusActive, StatusDisabled, StatusPending:
	default:
		return "status must be active, disabled or pending"
	}
	if in.PasswordHash == "" && in.Status != StatusPending {
		return "password_hash is required (or status pending, to activate with a token)"
	}
	if in.PasswordHash != "" {
		if err := ValidHash(in.PasswordHash); err != nil {
			return "password_hash must be a bcrypt ($2a$, $2b$, $2y$, cost ≤ 16) or PHC argon2id hash"
		}
		if in.Status == StatusPending {
			return "a pending user has no password_hash"
		}
	}
	u, err := s.validateNew(ctx, *in)
	if err != nil {
		return describe(err)
	}
	if prev, dup := seenUser[u.UsernameKey]; dup {
		return fmt.Sprintf("username %q repeats line %d", u.Username, prev)
	}
	seenUser[u.UsernameKey] = line
	if u.EmailKey != "" {
		if prev, dup := seenEmail[u.EmailKey]; dup {
			return fmt.Sprintf("email repeats line %d", prev)
		}
		seenEmail[u.EmailKey] = line
	}
	if _, err := s.store.GetUserByUsername(ctx, u.UsernameKey); err == nil {
		return fmt.Sprintf("user %q already exists", u.Username)
	}
	return ""
}

// describe turns a domain error into a one-line reason for a report.
func describe(err error) string {
	if ae, ok := apperr.As(err); ok {
		msg := ae.Detail
		for f, m := range ae.Fields {
			msg += "; " + f + " " + m
		}
		return msg
	}
	return "internal error"
}

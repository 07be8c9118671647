package app

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/gatehouse/gatehouse/internal/user"
)

// flags parses a subcommand's own flags; the rest (config flags) are returned.
func flags(name string, args []string, define func(fs *flag.FlagSet)) ([]string, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	define(fs)
	// Own flags come first; config flags (--listen …) may follow after "--".
	own, rest := args, []string(nil)
	for i, a := range args {
		if a == "--" {
			own, rest = args[:i], args[i+1:]
			break
		}
	}
	if err := fs.Parse(own); err != nil {
		return nil, nil, usagef("%s: %v", name, err)
	}
	return fs.Args(), rest, nil
}

func splitCSV(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (e cmdEnv) userCmd(args []string) error {
	name, args, err := sub("user", args, "create", "list", "show", "set-roles", "disable", "enable", "unlock", "mfa-reset", "import")
	if err != nil {
		return err
	}
	switch name {
	case "import":
		return e.importUsers(args)
	case "create":
		var email, display, roles, groups string
		var passwordStdin bool
		pos, rest, err := flags("user create", args, func(fs *flag.FlagSet) {
			fs.StringVar(&email, "email", "", "email address")
			fs.StringVar(&display, "display-name", "", "display name")
			fs.StringVar(&roles, "roles", "", "comma-separated roles")
			fs.StringVar(&groups, "groups", "", "comma-separated groups")
			fs.BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input (else the user is pending)")
		})
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("usage: gatehouse user create [--email E] [--roles a,b] [--groups g] [--password-stdin] USERNAME")
		}
		in := user.NewUser{Username: pos[0], Email: email, DisplayName: display, Roles: splitCSV(roles), Groups: splitCSV(groups)}
		if passwordStdin {
			b, err := io.ReadAll(io.LimitReader(e.io.Stdin, 4096))
			if err != nil {
				return err
			}
			pw := strings.TrimRight(string(b), "\r\n")
			in.Password = &pw
		}
		return e.withSystem(rest, func(s *system) error {
			u, token, err := s.users.Create(e.ctx, in)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.io.Stdout, "created %s (%s), status %s\n", u.Username, u.ID, u.Status)
			if token != "" {
				fmt.Fprintf(e.io.Stdout, "activation token (shown once, valid 24h): %s\n", token)
			}
			return nil
		})
	case "list":
		var q, status string
		var asJSON bool
		_, rest, err := flags("user list", args, func(fs *flag.FlagSet) {
			fs.StringVar(&q, "q", "", "search username, email, display name")
			fs.StringVar(&status, "status", "", "pending, active, locked or disabled")
			fs.BoolVar(&asJSON, "json", false, "print JSON lines")
		})
		if err != nil {
			return err
		}
		return e.withSystem(rest, func(s *system) error {
			tw := tabwriter.NewWriter(e.io.Stdout, 0, 4, 2, ' ', 0)
			if !asJSON {
				fmt.Fprintln(tw, "ID\tUSERNAME\tSTATUS\tROLES\tGROUPS")
			}
			after := ""
			for {
				page, err := s.users.List(e.ctx, user.ListQuery{Q: q, Status: user.Status(status), Limit: 200, After: after})
				if err != nil {
					return err
				}
				for _, u := range page {
					if asJSON {
						if err := printUserJSON(e.io.Stdout, u); err != nil {
							return err
						}
						continue
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.ID, u.Username, u.Status, strings.Join(u.Roles, ","), strings.Join(u.Groups, ","))
				}
				if len(page) < 200 {
					break
				}
				after = page[len(page)-1].UsernameKey
			}
			return tw.Flush()
		})
	}
	// The rest take one USER (id or username).
	extra := []string{}
	pos, rest, err := flags("user "+name, args, func(fs *flag.FlagSet) {})
	if err != nil {
		return err
	}
	if name == "set-roles" {
		if len(pos) != 2 {
			return usagef("usage: gatehouse user set-roles USER role1,role2")
		}
		extra = splitCSV(pos[1])
		pos = pos[:1]
	}
	if len(pos) != 1 {
		return usagef("usage: gatehouse user %s USER (a user id or username)", name)
	}
	return e.withSystem(rest, func(s *system) error {
		u, err := s.users.Get(e.ctx, pos[0])
		if err != nil {
			if u, err = s.users.GetByUsername(e.ctx, pos[0]); err != nil {
				return fmt.Errorf("no user %q: give a user id (usr_…) or a username", pos[0])
			}
		}
		switch name {
		case "set-roles":
			u, err = s.users.SetRoles(e.ctx, u.ID, extra)
		case "disable":
			u, err = s.users.Disable(e.ctx, u.ID)
		case "enable":
			u, err = s.users.Enable(e.ctx, u.ID)
		case "unlock":
			u, err = s.users.Unlock(e.ctx, u.ID)
		case "mfa-reset":
			err = s.mfa.Reset(e.ctx, u.ID, func(ctx context.Context) error {
				return s.revocations.RevokeUser(ctx, u.ID, "", "mfa_reset")
			})
			if err == nil {
				u, err = s.users.Get(e.ctx, u.ID)
			}
		}
		if err != nil {
			return err
		}
		return printUserJSON(e.io.Stdout, u)
	})
}

// importUsers runs `gatehouse user import [--dry-run] [--continue] FILE`.
func (e cmdEnv) importUsers(args []string) error {
	var dryRun, keepGoing bool
	pos, rest, err := flags("user import", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&dryRun, "dry-run", false, "check every line, import nothing")
		fs.BoolVar(&keepGoing, "continue", false, "import the good lines even when some are bad")
	})
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: gatehouse user import [--dry-run] [--continue] FILE (CSV with a header row, or JSON lines; - for stdin)")
	}
	var in io.Reader = e.io.Stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0]) // #nosec G304 -- the operator names the file
		if err != nil {
			return fmt.Errorf("open the import file: %w", err)
		}
		defer f.Close()
		in = f
	}
	recs, probs, err := user.ParseImport(in)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.io.Stderr, "read %d user(s) and %d bad line(s) from %s\n", len(recs), len(probs), pos[0])
	return e.withSystem(rest, func(s *system) error {
		res, err := s.users.Import(e.ctx, recs, probs, dryRun, keepGoing)
		for _, p := range res.Problems {
			fmt.Fprintln(e.io.Stdout, "problem:", p)
		}
		for name, tok := range res.Activations {
			fmt.Fprintf(e.io.Stdout, "activation token for %s (shown once, valid 24h): %s\n", name, tok)
		}
		switch {
		case err != nil:
			return err
		case dryRun:
			fmt.Fprintf(e.io.Stdout, "dry run: %d user(s) would be imported, %d problem(s)\n", res.Imported, len(res.Problems))
			if len(res.Problems) > 0 {
				return fmt.Errorf("%d line(s) have problems", len(res.Problems))
			}
		default:
			fmt.Fprintf(e.io.Stdout, "imported %d user(s); %d line(s) skipped\n", res.Imported, len(res.Problems))
		}
		return nil
	})
}

func printUserJSON(w io.Writer, u *user.User) error {
	return json.NewEncoder(w).Encode(map[string]any{"id": u.ID, "username": u.Username, "email": u.Email, "display_name": u.DisplayName,
		"status": u.Status, "roles": u.Roles, "groups": u.Groups, "mfa": map[string]bool{"totp": u.TOTPEnabled},
		"created_at": u.CreatedAt, "updated_at": u.UpdatedAt, "last_login_at": u.LastLoginAt, "locked_until": u.LockedUntil})
}

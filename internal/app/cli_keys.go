package app

import (
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/internal/apikey"
)

// keyCmd runs `gatehouse key create|list|rotate|revoke`.
func (e cmdEnv) keyCmd(args []string) error {
	name, args, err := sub("key", args, "create", "list", "rotate", "revoke")
	if err != nil {
		return err
	}
	switch name {
	case "create":
		var owner, perms, prefix string
		var expires time.Duration
		var limit int
		var window time.Duration
		var quota int64
		pos, rest, err := flags("key create", args, func(fs *flag.FlagSet) {
			fs.StringVar(&owner, "owner", "", "the owning user (id or username); required")
			fs.StringVar(&perms, "permissions", "", "comma-separated permissions, a subset of the owner's")
			fs.StringVar(&prefix, "prefix", "", "key prefix (default gk), e.g. kx_live")
			fs.DurationVar(&expires, "expires-in", 0, "lifetime, e.g. 720h (default: no expiry)")
			fs.IntVar(&limit, "rate-limit", 0, "requests per --window (default: none)")
			fs.DurationVar(&window, "window", time.Minute, "rate-limit window")
			fs.Int64Var(&quota, "quota", 0, "number of uses (default: unlimited)")
		})
		if err != nil {
			return err
		}
		if len(pos) != 1 || owner == "" {
			return usagef("usage: gatehouse key create --owner USER [--permissions a,b] [--prefix p] [--expires-in 720h] [--rate-limit N --window 1m] [--quota N] NAME")
		}
		return e.withSystem(rest, func(s *system) error {
			u, err := s.users.Get(e.ctx, owner)
			if err != nil {
				if u, err = s.users.GetByUsername(e.ctx, owner); err != nil {
					return fmt.Errorf("no user %q: give a user id (usr_…) or a username", owner)
				}
			}
			in := apikey.NewKey{Name: pos[0], OwnerID: u.ID, Permissions: splitCSV(perms), Prefix: prefix, ExpiresIn: expires}
			if limit > 0 {
				in.RateLimit = &apikey.Limit{Limit: limit, Window: window}
			}
			if quota > 0 {
				in.Quota = &quota
			}
			k, secret, err := s.apiKeys.Create(e.ctx, in)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.io.Stdout, "id:  %s\nkey: %s\n(shown once; only its SHA-256 is stored)\n", k.ID, secret)
			return nil
		})
	case "list":
		var owner string
		_, rest, err := flags("key list", args, func(fs *flag.FlagSet) {
			fs.StringVar(&owner, "owner", "", "only this user's keys (id)")
		})
		if err != nil {
			return err
		}
		return e.withSystem(rest, func(s *system) error {
			list, err := s.apiKeys.List(e.ctx, owner)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.io.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tHINT\tOWNER\tSTATUS\tPERMISSIONS\tEXPIRES")
			for _, k := range list {
				exp := "-"
				if k.ExpiresAt != nil {
					exp = k.ExpiresAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Hint, k.OwnerID, k.EffectiveStatus(time.Now(), true), strings.Join(k.Permissions, ","), exp)
			}
			return tw.Flush()
		})
	default: // rotate, revoke
		var grace time.Duration
		pos, rest, err := flags("key "+name, args, func(fs *flag.FlagSet) {
			if name == "rotate" {
				fs.DurationVar(&grace, "grace", 0, "how long the old secret keeps working, e.g. 24h")
			}
		})
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("usage: gatehouse key %s KEY_ID", name)
		}
		return e.withSystem(rest, func(s *system) error {
			if name == "revoke" {
				if err := s.apiKeys.Revoke(e.ctx, pos[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.io.Stdout, "revoked %s; running servers refuse it within a second\n", pos[0])
				return nil
			}
			_, secret, err := s.apiKeys.Rotate(e.ctx, pos[0], grace)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.io.Stdout, "new key: %s\n(shown once; the old one works for %s more)\n", secret, grace)
			return nil
		})
	}
}

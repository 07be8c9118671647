package app

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

func (e cmdEnv) clientCmd(args []string) error {
	name, args, err := sub("client", args, "create", "list", "delete")
	if err != nil {
		return err
	}
	switch name {
	case "create":
		var typ, grants, redirects, scopes string
		pos, rest, err := flags("client create", args, func(fs *flag.FlagSet) {
			fs.StringVar(&typ, "type", "confidential", "public or confidential")
			fs.StringVar(&grants, "grant-types", "client_credentials", "comma-separated grant types")
			fs.StringVar(&redirects, "redirect-uris", "", "comma-separated redirect URIs")
			fs.StringVar(&scopes, "scopes", "", "comma-separated scopes (permissions) the client may carry")
		})
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("usage: gatehouse client create [--type confidential] [--grant-types a,b] [--scopes s1,s2] NAME")
		}
		return e.withSystem(rest, func(s *system) error {
			c, sec, err := s.oauth.CreateClient(e.ctx, oauth.NewClient{Name: pos[0], Type: oauth.ClientType(typ),
				GrantTypes: splitCSV(grants), RedirectURIs: splitCSV(redirects), Scopes: splitCSV(scopes)})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.io.Stdout, "client_id:     %s\n", c.ID)
			if sec != "" {
				fmt.Fprintf(e.io.Stdout, "client_secret: %s\n(shown once; only its hash is stored)\n", sec)
			}
			return nil
		})
	case "list":
		_, rest, err := flags("client list", args, func(fs *flag.FlagSet) {})
		if err != nil {
			return err
		}
		return e.withSystem(rest, func(s *system) error {
			list, err := s.oauth.ListClients(e.ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.io.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLIENT_ID\tNAME\tTYPE\tGRANT_TYPES\tSCOPES")
			for _, c := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, c.Type, strings.Join(c.GrantTypes, ","), strings.Join(c.Scopes, ","))
			}
			return tw.Flush()
		})
	default: // delete
		pos, rest, err := flags("client delete", args, func(fs *flag.FlagSet) {})
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("usage: gatehouse client delete CLIENT_ID")
		}
		return e.withSystem(rest, func(s *system) error {
			if err := s.oauth.DeleteClient(e.ctx, pos[0]); err != nil {
				return err
			}
			fmt.Fprintf(e.io.Stdout, "deleted client %s\n", pos[0])
			return nil
		})
	}
}

func (e cmdEnv) auditCmd(args []string) error {
	name, args, err := sub("audit", args, "verify", "export", "tail")
	if err != nil {
		return err
	}
	var n int
	pos, rest, err := flags("audit "+name, args, func(fs *flag.FlagSet) {
		fs.IntVar(&n, "n", 20, "how many recent events (tail)")
	})
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("audit %s takes no arguments", name)
	}
	return e.withExistingSystem(rest, func(s *system) error {
		switch name {
		case "verify":
			res, err := audit.Verify(e.ctx, s.store, s.auditKey, func(n int64) { fmt.Fprintf(e.io.Stderr, "verified %d events…\n", n) })
			if err != nil {
				return err
			}
			if !res.OK() {
				for _, p := range res.Problems {
					fmt.Fprintln(e.io.Stdout, "TAMPERED:", p)
				}
				return fmt.Errorf("the audit chain is broken: %d problem(s) in %d events; restore the database from a backup and investigate who had write access", len(res.Problems), res.Events)
			}
			if res.HeadUnauthenticated {
				fmt.Fprintln(e.io.Stderr, "warning: the audit chain head carries no MAC yet (written before this version, or no event "+
					"recorded since): events deleted from the end would go unnoticed until the next audit event authenticates it")
			}
			fmt.Fprintf(e.io.Stdout, "audit chain intact: %d events\n", res.Events)
			// Recorded outside the database, the head is an anchor: a later
			// verify showing a lower seq means the database was rolled back.
			fmt.Fprintf(e.io.Stdout, "head: seq %d hash %s\n", res.LastSeq, res.LastHash)
			return nil
		case "export":
			enc := json.NewEncoder(e.io.Stdout)
			return s.store.ScanAudit(e.ctx, 0, func(ev *audit.Event) error { return enc.Encode(ev) })
		default:
			if n < 1 || n > 10000 {
				return usagef("-n must be from 1 to 10000")
			}
			events, err := s.store.ListAudit(e.ctx, audit.Query{Limit: n})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.io.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tTIME\tACTION\tOUTCOME\tACTOR\tTARGET\tIP")
			for i := len(events) - 1; i >= 0; i-- {
				ev := events[i]
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s:%s\t%s:%s\t%s\n", ev.Seq, ev.Time.Format("2006-01-02T15:04:05Z"), ev.Action, ev.Outcome,
					ev.Actor.Type, ev.Actor.ID, ev.Target.Type, ev.Target.ID, ev.IP)
			}
			return tw.Flush()
		}
	})
}

// doctor checks a deployment and reports each finding; any FAIL exits 1.
func (e cmdEnv) doctor(args []string) error {
	out := e.io.Stdout
	fails := 0
	report := func(level, msg string) {
		if level == "FAIL" {
			fails++
		}
		fmt.Fprintf(out, "%-4s  %s\n", level, msg)
	}
	cfg, err := loadConfig(args, e.getenv, e.environ, e.io.Stderr)
	if err != nil {
		report("FAIL", err.Error())
		return fmt.Errorf("doctor found %d problem(s)", fails)
	}
	report("OK", "configuration is valid (issuer "+cfg.Issuer+")")
	if cfg.MasterKey.IsZero() {
		report("WARN", "no GATEHOUSE_MASTER_KEY: secrets are encrypted with a development key kept in the data dir")
	}
	if strings.HasPrefix(cfg.Issuer, "http://") {
		report("WARN", "the issuer is plain HTTP; fine on loopback for development, use HTTPS in production")
	}
	if err := requireDatabase(cfg); err != nil {
		report("FAIL", err.Error())
		return fmt.Errorf("doctor found %d problem(s)", fails)
	}
	s, err := open(e.ctx, cfg, e.io.Stderr, false)
	if err != nil {
		report("FAIL", err.Error())
		return fmt.Errorf("doctor found %d problem(s)", fails)
	}
	defer s.close()
	if err := s.store.Ping(e.ctx); err != nil {
		report("FAIL", "database unreachable: "+err.Error())
	} else {
		report("OK", "database ("+s.store.Engine()+") answers")
	}
	check := func(ctx context.Context) {
		if err := s.keys.Load(ctx); err != nil {
			report("FAIL", "signing keys: "+err.Error())
		} else {
			report("OK", "signing key "+s.keys.Signer().KID()+" ("+s.keys.Signer().Alg()+") decrypts with the master key")
		}
		s.doctorSealed(ctx, report)
		n, err := s.users.AdminCount(ctx)
		switch {
		case err != nil:
			report("FAIL", "counting admins: "+err.Error())
		case n == 0:
			report("FAIL", "no active admin; start the server once to create one, or enable an admin")
		case n < 2:
			report("WARN", fmt.Sprintf("only %d active admin; keep at least two so one lost account does not lock you out", n))
		default:
			report("OK", fmt.Sprintf("%d active admins", n))
		}
		res, err := audit.Verify(ctx, s.store, s.auditKey, nil)
		switch {
		case err != nil:
			report("FAIL", "audit chain: "+err.Error())
		case !res.OK():
			report("FAIL", fmt.Sprintf("audit chain broken (%d problems); run gatehouse audit verify", len(res.Problems)))
		case res.HeadUnauthenticated:
			report("WARN", fmt.Sprintf("audit chain intact (%d events), but its head carries no MAC until the next audit event", res.Events))
		default:
			report("OK", fmt.Sprintf("audit chain intact (%d events)", res.Events))
		}
	}
	check(e.ctx)
	if fails > 0 {
		return fmt.Errorf("doctor found %d problem(s)", fails)
	}
	return nil
}

package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/secret"
)

// targetMasterKey is the target type of master_key.rotated events.
const targetMasterKey = "master_key"

// sealedCounts counts values sealed under the master key, per kind.
type sealedCounts struct {
	signingKeys, totp, secrets int
}

func (c sealedCounts) total() int { return c.signingKeys + c.totp + c.secrets }

func (c sealedCounts) String() string {
	return fmt.Sprintf("signing keys: %d, TOTP secrets: %d, sealed secrets: %d", c.signingKeys, c.totp, c.secrets)
}

// rewrapSealed re-seals under the current master key every value sealed
// under a previous one — signing keys, TOTP secrets, sealed secrets — in
// one transaction with its master_key.rotated audit event, and returns how
// many of each it re-sealed. With dryRun it only opens and counts them.
// Progress on large counts goes to progress when it is not nil. A value
// that opens under no key fails it with a *secret.RewrapError, and nothing
// is changed.
func (s *system) rewrapSealed(ctx context.Context, dryRun bool, progress io.Writer) (sealedCounts, error) {
	opts := func(what string) secret.RewrapOptions {
		o := secret.RewrapOptions{DryRun: dryRun}
		if progress != nil {
			o.Progress = func(n int) { fmt.Fprintf(progress, "%s: %d re-encrypted so far…\n", what, n) }
		}
		return o
	}
	var c sealedCounts
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		if c.signingKeys, err = s.keys.Rewrap(ctx, opts("signing keys")); err != nil {
			return err
		}
		if c.totp, err = s.mfa.Rewrap(ctx, opts("TOTP secrets")); err != nil {
			return err
		}
		if c.secrets, err = secret.RewrapSecrets(ctx, s.store, s.keyring, opts("sealed secrets")); err != nil {
			return err
		}
		if dryRun || c.total() == 0 {
			return nil
		}
		return s.audit.Record(ctx, audit.Event{Action: "master_key.rotated", Target: audit.Ref{Type: targetMasterKey, ID: s.keyring.KeyID()},
			Metadata: map[string]any{"key_id": s.keyring.KeyID(), "signing_keys": c.signingKeys, "totp_secrets": c.totp, "sealed_secrets": c.secrets}})
	})
	return c, err
}

// rewrapAdvice explains a value that opens under no master key given.
func rewrapAdvice(re *secret.RewrapError) string {
	if re.UnknownKey() {
		return "add the master key it was sealed under to GATEHOUSE_MASTER_KEY_PREVIOUS (several keys: separated by commas)"
	}
	return "restore that row from a backup, or remove it (a TOTP enrolment: gatehouse user mfa-reset)"
}

// masterKeyCmd is `gatehouse master-key rotate`: every value sealed under a
// key of GATEHOUSE_MASTER_KEY_PREVIOUS is re-sealed under
// GATEHOUSE_MASTER_KEY, in one transaction (decisions.md #29).
func (e cmdEnv) masterKeyCmd(args []string) error {
	_, rest, err := sub("master-key", args, "rotate")
	if err != nil {
		return err
	}
	cfg, err := loadConfig(rest, e.getenv, e.environ, e.io.Stderr)
	if err != nil {
		return err
	}
	if cfg.MasterKey.IsZero() && cfg.MasterKeyPrevious.IsZero() {
		dev := filepath.Join(cfg.DataDir, secret.DevMasterKeyFile)
		return usagef("master-key rotate re-encrypts every secret under GATEHOUSE_MASTER_KEY, which is not set: "+
			"the development key in %s is in use. To move to a key of your own:\n"+
			"  1. generate one, outside the data dir:  openssl rand -base64 32 > /etc/gatehouse/master.key\n"+
			"  2. set it as GATEHOUSE_MASTER_KEY (or GATEHOUSE_MASTER_KEY_FILE) and put the old key in GATEHOUSE_MASTER_KEY_PREVIOUS[_FILE]:\n"+
			"       GATEHOUSE_MASTER_KEY_FILE=/etc/gatehouse/master.key GATEHOUSE_MASTER_KEY_PREVIOUS_FILE=%s gatehouse master-key rotate\n"+
			"  3. start gatehouse with GATEHOUSE_MASTER_KEY_FILE alone, without GATEHOUSE_MASTER_KEY_PREVIOUS; %s is then no longer needed",
			dev, dev, dev)
	}
	return e.openLoaded(cfg, true, func(s *system) error {
		c, err := s.rewrapSealed(e.ctx, false, e.io.Stderr)
		var re *secret.RewrapError
		switch {
		case errors.As(err, &re):
			return fmt.Errorf("%w.\nNothing was changed: %s, then run gatehouse master-key rotate again", err, rewrapAdvice(re))
		case err != nil:
			return fmt.Errorf("re-encrypting under master key %s: %w; nothing was changed", s.keyring.KeyID(), err)
		case c.total() == 0:
			fmt.Fprintf(e.io.Stdout, "nothing to re-encrypt: every sealed value is already under master key %s\n", s.keyring.KeyID())
			if !cfg.MasterKeyPrevious.IsZero() {
				fmt.Fprintln(e.io.Stdout, "remove GATEHOUSE_MASTER_KEY_PREVIOUS once every instance runs with GATEHOUSE_MASTER_KEY")
			}
			return nil
		}
		fmt.Fprintf(e.io.Stdout, "signing keys: %d re-encrypted, TOTP secrets: %d, sealed secrets: %d; every value is now under key %s\n"+
			"remove GATEHOUSE_MASTER_KEY_PREVIOUS once every instance runs with the new key\n",
			c.signingKeys, c.totp, c.secrets, s.keyring.KeyID())
		return nil
	})
}

// doctorSealed reports on the values sealed under the master key: all
// under the current key, some still under a previous one, or one that
// opens under none.
func (s *system) doctorSealed(ctx context.Context, report func(level, msg string)) {
	c, err := s.rewrapSealed(ctx, true, nil)
	var re *secret.RewrapError
	previousSet := !s.cfg.MasterKeyPrevious.IsZero()
	switch {
	case errors.As(err, &re):
		report("FAIL", fmt.Sprintf("%v; %s", err, rewrapAdvice(re)))
	case err != nil:
		report("FAIL", "checking the sealed values: "+err.Error())
	case c.total() > 0:
		report("WARN", fmt.Sprintf("%d value(s) still sealed under a previous master key (%s); run gatehouse master-key rotate", c.total(), c))
	case previousSet:
		report("WARN", "GATEHOUSE_MASTER_KEY_PREVIOUS is set but no value is sealed under it any more; remove it")
	default:
		report("OK", "every sealed value is under master key "+s.keyring.KeyID())
	}
}

package secret

import (
	"bytes"
	"context"
	"errors"
	"fmt"
)

// Stored is one value sealed under the master key as a store holds it. ID
// names its row (a key id, a user id, a secret's name) in messages; the
// sealed value is never shown.
type Stored struct {
	ID     string
	Sealed string
}

// StoredKind is one kind of value sealed under the master key, as
// Keyring.RewrapStored walks it.
type StoredKind struct {
	// What names the kind in messages, followed by a value's ID:
	// "signing key", "TOTP secret of user".
	What string
	// List returns up to limit values with IDs after afterID ("" from the
	// first), ordered by ID; none when there are no more.
	List func(afterID string, limit int) ([]Stored, error)
	// AD returns the associated data the value of id is sealed with.
	AD func(id string) string
	// Update stores fresh in place of v.Sealed; false when the row no
	// longer holds v.Sealed.
	Update func(v Stored, fresh string) (bool, error)
}

// RewrapOptions says how a rewrap runs.
type RewrapOptions struct {
	// DryRun opens each value sealed under a previous key and counts it,
	// changing nothing.
	DryRun bool
	// Progress, when set, is called after every RewrapProgressEvery values
	// re-sealed with how many are done so far.
	Progress func(done int)
}

// RewrapProgressEvery is how often RewrapOptions.Progress is called.
const RewrapProgressEvery = 1000

// rewrapPage is how many values RewrapStored asks List for at a time.
const rewrapPage = 500

// RewrapError names a stored value that cannot be re-sealed because it does
// not open under any key of the keyring. It never holds the value.
type RewrapError struct {
	What, ID string
	// KeyID is the id of the master key the value names ("" when it is not
	// a sealed value at all).
	KeyID string
	Err   error
}

// UnknownKey reports whether the value is sealed under a master key the
// keyring does not hold (rather than damaged, or bound to another row).
func (e *RewrapError) UnknownKey() bool {
	var uk *UnknownKeyError
	return errors.As(e.Err, &uk)
}

func (e *RewrapError) Error() string {
	var uk *UnknownKeyError
	switch {
	case errors.As(e.Err, &uk):
		return fmt.Sprintf("%s %s is sealed under master key %s, which is none of the keys given (current %s)",
			e.What, e.ID, uk.KeyID, uk.Held[0])
	case e.KeyID == "":
		return fmt.Sprintf("%s %s is not a sealed value", e.What, e.ID)
	default:
		return fmt.Sprintf("%s %s does not open under master key %s, which was given: it is damaged or was copied from another row",
			e.What, e.ID, e.KeyID)
	}
}

func (e *RewrapError) Unwrap() error { return e.Err }

// RewrapStored re-seals under the current master key every value of k that
// is sealed under another key, with its own associated data, checks that
// the new value opens under the current key to the same plaintext, and
// stores it with k.Update. It returns how many values it re-sealed (with
// DryRun: how many are sealed under another key). It stops at the first
// value that does not open, with a *RewrapError, and at the first store
// error; run it inside a transaction so that nothing is kept then.
func (kr *Keyring) RewrapStored(k StoredKind, opts RewrapOptions) (int, error) {
	n, after := 0, ""
	for {
		page, err := k.List(after, rewrapPage)
		if err != nil || len(page) == 0 {
			return n, err
		}
		for _, v := range page {
			after = v.ID
			if !kr.NeedsRewrap(v.Sealed) {
				continue
			}
			if err := kr.rewrapOne(k, v, opts.DryRun); err != nil {
				return n, err
			}
			n++
			if opts.Progress != nil && n%RewrapProgressEvery == 0 {
				opts.Progress(n)
			}
		}
	}
}

func (kr *Keyring) rewrapOne(k StoredKind, v Stored, dryRun bool) error {
	ad := k.AD(v.ID)
	pt, err := kr.Open(v.Sealed, ad)
	if err != nil {
		return &RewrapError{What: k.What, ID: v.ID, KeyID: SealedKeyID(v.Sealed), Err: err}
	}
	if dryRun {
		return nil
	}
	fresh, err := kr.Seal(pt, ad)
	if err != nil {
		return err
	}
	if back, err := kr.Open(fresh, ad); err != nil || kr.NeedsRewrap(fresh) || !bytes.Equal(back, pt) {
		return fmt.Errorf("%s %s: the re-sealed value does not open under the current master key %s", k.What, v.ID, kr.KeyID())
	}
	ok, err := k.Update(v, fresh)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s %s changed while it was being re-sealed; run the rotation again", k.What, v.ID)
	}
	return nil
}

// SecretStore keeps named server secrets (the audit chain key), each
// sealed under the master key with its name as the associated data.
type SecretStore interface {
	// InTx runs fn in one transaction, carried by the context fn receives;
	// called inside a transaction it joins it.
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	// ListSealedSecrets returns up to limit secrets named after afterName,
	// by name, with ID the name; inside a transaction they stay locked
	// against other writers until it ends.
	ListSealedSecrets(ctx context.Context, afterName string, limit int) ([]Stored, error)
	// UpdateSealedSecret stores fresh as the secret name when it still
	// holds old; false when it does not (or there is no such secret).
	UpdateSealedSecret(ctx context.Context, name, old, fresh string) (bool, error)
}

// RewrapSecrets re-seals, as RewrapStored does, every named secret of st
// sealed under a master key other than the current one, in one
// transaction that joins the caller's, and returns how many (with DryRun:
// how many need it). A secret that opens under no key of kr fails it with
// a *RewrapError, and the transaction is rolled back.
func RewrapSecrets(ctx context.Context, st SecretStore, kr *Keyring, opts RewrapOptions) (int, error) {
	var n int
	err := st.InTx(ctx, func(ctx context.Context) error {
		var err error
		n, err = kr.RewrapStored(StoredKind{
			What: "sealed secret",
			List: func(after string, limit int) ([]Stored, error) { return st.ListSealedSecrets(ctx, after, limit) },
			AD:   func(name string) string { return name },
			Update: func(v Stored, fresh string) (bool, error) {
				return st.UpdateSealedSecret(ctx, v.ID, v.Sealed, fresh)
			},
		}, opts)
		return err
	})
	return n, err
}

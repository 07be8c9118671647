package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/store"
)

var txTests = []test{
	{"CommitPersists", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		err := s.InTx(ctx, func(ctx context.Context) error {
			if err := s.CreateUser(ctx, newUser("alice")); err != nil {
				return err
			}
			// Reads inside the transaction see its writes.
			_, err := s.GetUser(ctx, "usr_alice")
			return err
		})
		must(t, err)
		_, err = s.GetUser(ctx, "usr_alice")
		must(t, err)
	}},
	{"ErrorRollsBack", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		err := s.InTx(ctx, func(ctx context.Context) error {
			must(t, s.CreateUser(ctx, newUser("alice")))
			must(t, s.CreateRole(ctx, roleFixture("r1")))
			return errSentinel
		})
		if err != errSentinel {
			t.Fatalf("InTx = %v, want fn's error as is", err)
		}
		_, err = s.GetUser(ctx, "usr_alice")
		wantErr(t, err, apperr.KindNotFound, apperr.CodeUserNotFound)
		roles, err := s.ListRoles(ctx)
		must(t, err)
		if len(roles) != 0 {
			t.Fatalf("roles after rollback = %v", roles)
		}
		// The store is usable after a rollback (the writer was released).
		must(t, s.CreateUser(ctx, newUser("alice")))
	}},
	{"PanicRollsBackAndRepanics", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Fatalf("recovered %v, want the panic to continue", r)
				}
			}()
			_ = s.InTx(ctx, func(ctx context.Context) error {
				must(t, s.CreateUser(ctx, newUser("alice")))
				panic("boom")
			})
		}()
		_, err := s.GetUser(ctx, "usr_alice")
		wantErr(t, err, apperr.KindNotFound, apperr.CodeUserNotFound)
		must(t, s.CreateUser(ctx, newUser("alice")))
	}},
	{"NestedJoins", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		err := s.InTx(ctx, func(ctx context.Context) error {
			must(t, s.CreateUser(ctx, newUser("alice")))
			must(t, s.InTx(ctx, func(ctx context.Context) error {
				// The outer transaction's write is visible: same transaction.
				if _, err := s.GetUser(ctx, "usr_alice"); err != nil {
					return err
				}
				return s.CreateUser(ctx, newUser("bob"))
			}))
			return errSentinel // rolls back the inner work too
		})
		if !errors.Is(err, errSentinel) {
			t.Fatalf("InTx = %v", err)
		}
		for _, id := range []string{"usr_alice", "usr_bob"} {
			_, err := s.GetUser(ctx, id)
			wantErr(t, err, apperr.KindNotFound, apperr.CodeUserNotFound)
		}
	}},
	{"NestedErrorAbortsOuter", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		err := s.InTx(ctx, func(ctx context.Context) error {
			must(t, s.CreateUser(ctx, newUser("alice")))
			return s.InTx(ctx, func(ctx context.Context) error { return errSentinel })
		})
		if err != errSentinel {
			t.Fatalf("InTx = %v", err)
		}
		_, err = s.GetUser(ctx, "usr_alice")
		wantErr(t, err, apperr.KindNotFound, apperr.CodeUserNotFound)
	}},
	{"MethodsThatNeedATransaction", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, s.LockAdmins(ctx), apperr.KindInternal, "")
		wantErr(t, s.LockSigningKeys(ctx), apperr.KindInternal, "")
		_, _, err := s.AuditHead(ctx)
		wantErr(t, err, apperr.KindInternal, "")
		must(t, s.InTx(ctx, func(ctx context.Context) error {
			if err := s.LockAdmins(ctx); err != nil {
				return err
			}
			return s.LockSigningKeys(ctx)
		}))
	}},
}

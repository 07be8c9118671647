package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apperr"
	"github.com/gatehouse/gatehouse/internal/audit"
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
		_, err := s.AuditHead(ctx)
		wantErr(t, err, apperr.KindInternal, "")
		must(t, s.InTx(ctx, func(ctx context.Context) error {
			if err := s.LockAdmins(ctx); err != nil {
				return err
			}
			return s.LockSigningKeys(ctx)
		}))
	}},
	{"ConcurrentTransactionsAreIndependent", func(t *testing.T, s *store.Store) {
		// Many transactions at once (on SQLite they share commits): each
		// one's outcome is its own, whether its neighbours commit, fail,
		// conflict, panic or give up waiting.
		ctx := t.Context()
		const n = 48
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				txCtx := ctx
				if i%6 == 5 {
					c, cancel := context.WithCancel(ctx)
					cancel()
					txCtx = c
				}
				defer func() {
					if r := recover(); r != nil {
						errs[i] = fmt.Errorf("panic %v", r)
					}
				}()
				errs[i] = s.InTx(txCtx, func(ctx context.Context) error {
					if err := s.CreateUser(ctx, newUser(fmt.Sprintf("u%d", i))); err != nil {
						return err
					}
					// Each appends to the audit chain too: the chain must stay
					// whole whichever neighbours roll back.
					if err := appendEvent(ctx, s, eventFixture(i, "user.created")); err != nil {
						return err
					}
					switch i % 6 {
					case 1:
						return errSentinel
					case 2:
						dup := newUser("dup") // one wins, the others conflict on the username
						dup.ID = fmt.Sprintf("usr_dup%d", i)
						return s.CreateUser(ctx, dup)
					case 3:
						panic("boom")
					}
					return nil
				})
			})
		}
		close(start)
		wg.Wait()
		dupWinners := 0
		for i, err := range errs {
			_, getErr := s.GetUser(ctx, fmt.Sprintf("usr_u%d", i))
			switch i % 6 {
			case 0, 4:
				must(t, err)
				must(t, getErr)
			case 1:
				if err != errSentinel {
					t.Fatalf("tx %d = %v, want the sentinel", i, err)
				}
				wantErr(t, getErr, apperr.KindNotFound, apperr.CodeUserNotFound)
			case 2:
				if err == nil {
					dupWinners++
					must(t, getErr)
				} else {
					wantErr(t, err, apperr.KindConflict, "")
					wantErr(t, getErr, apperr.KindNotFound, apperr.CodeUserNotFound)
				}
			case 3:
				if err == nil || err.Error() != "panic boom" {
					t.Fatalf("tx %d = %v, want the panic to reach its caller", i, err)
				}
				wantErr(t, getErr, apperr.KindNotFound, apperr.CodeUserNotFound)
			case 5:
				// Gave up waiting (Unavailable) or ran anyway: either way
				// all or nothing.
				if err != nil {
					wantErr(t, err, apperr.KindUnavailable, "")
					wantErr(t, getErr, apperr.KindNotFound, apperr.CodeUserNotFound)
				} else {
					must(t, getErr)
				}
			}
		}
		if dupWinners != 1 {
			t.Fatalf("%d transactions created the same user, want 1", dupWinners)
		}
		res, err := audit.Verify(ctx, s, ChainKey, nil)
		must(t, err)
		committed := 0
		for _, err := range errs {
			if err == nil {
				committed++
			}
		}
		if !res.OK() || res.Events != int64(committed) {
			t.Fatalf("audit chain after concurrent transactions: %+v, want whole with %d events", res, committed)
		}
		must(t, s.CreateUser(ctx, newUser("after")))
	}},
}

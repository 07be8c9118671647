package audit

import (
	"context"
	"crypto/hmac"
	"fmt"
)

// Problem is one break in the chain found by Verify.
type Problem struct {
	Seq    int64
	ID     string
	Reason string
}

func (p Problem) String() string { return fmt.Sprintf("event %d (%s): %s", p.Seq, p.ID, p.Reason) }

// VerifyResult summarizes a verification. On success LastSeq and LastHash
// are the head, which an operator may record outside the database: a later
// verification showing a lower LastSeq means the database was rolled back.
type VerifyResult struct {
	Events   int64
	LastSeq  int64
	LastHash string
	// HeadUnauthenticated is set when the head carries no MAC and the chain
	// holds no ActionHeadAuthenticated event: a database no version that
	// authenticates the head has written to yet (an upgrade not followed by
	// any event, or a new database without events). Events deleted from the
	// end of such a chain go unnoticed; the next event authenticates it.
	HeadUnauthenticated bool
	Problems            []Problem
}

// OK reports whether the chain is intact.
func (v VerifyResult) OK() bool { return len(v.Problems) == 0 }

// maxProblems bounds the report of a badly damaged chain.
const maxProblems = 100

// Verify walks the whole chain and reports every event whose hash does not
// match its content (edited), whose prev_hash does not match its predecessor
// (inserted or deleted), or whose seq skips (deleted). It also checks that
// the last event is the head the store holds and that the head's MAC
// (HeadMAC) is right, which catches a deleted tail with the head moved back
// to the last event left. A head without a MAC is accepted, with
// HeadUnauthenticated set, only while the chain holds no
// ActionHeadAuthenticated event.
func Verify(ctx context.Context, store Store, key []byte, progress func(n int64)) (VerifyResult, error) {
	var res VerifyResult
	var prevHash string
	var prevSeq int64
	var authSeq int64 // the first ActionHeadAuthenticated event, 0 when none
	add := func(p Problem) {
		if len(res.Problems) < maxProblems {
			res.Problems = append(res.Problems, p)
		}
	}
	check := func(e *Event) error {
		res.Events++
		if e.Seq != prevSeq+1 {
			add(Problem{e.Seq, e.ID, fmt.Sprintf("sequence jumps from %d: events were deleted", prevSeq)})
		}
		if e.PrevHash != prevHash {
			add(Problem{e.Seq, e.ID, "prev_hash does not match the previous event: an event was inserted or deleted"})
		}
		h, err := ChainHash(key, e)
		if err != nil {
			return err
		}
		if h != e.Hash {
			add(Problem{e.Seq, e.ID, "hash does not match the content: the event was edited"})
		}
		if e.Action == ActionHeadAuthenticated && authSeq == 0 {
			authSeq = e.Seq
		}
		prevHash, prevSeq = e.Hash, e.Seq
		if progress != nil && res.Events%10000 == 0 {
			progress(res.Events)
		}
		return nil
	}
	if err := store.ScanAudit(ctx, 0, check); err != nil {
		return res, err
	}
	// Compare with the head. Events appended while we scanned move the head
	// past our last event: scan on from there (a few times) before judging.
	var head Head
	for attempt := 0; ; attempt++ {
		err := store.InTx(ctx, func(ctx context.Context) error {
			var err error
			head, err = store.AuditHead(ctx)
			return err
		})
		if err != nil {
			return res, err
		}
		if head.Seq <= prevSeq || attempt == 3 {
			break
		}
		if err := store.ScanAudit(ctx, prevSeq, check); err != nil {
			return res, err
		}
	}
	res.LastSeq, res.LastHash = prevSeq, prevHash
	switch {
	case head.Seq < prevSeq:
		add(Problem{prevSeq, "head", fmt.Sprintf("events after the chain head %d exist: events were inserted at the end", head.Seq)})
	case head.Seq != prevSeq || head.Hash != prevHash:
		add(Problem{head.Seq, "head", fmt.Sprintf("the chain head says event %d but the last event is %d: events were deleted from the end", head.Seq, prevSeq)})
	}
	switch {
	case head.MAC == "" && authSeq > 0:
		add(Problem{head.Seq, "head", fmt.Sprintf("the chain head (event %d) carries no MAC although event %d authenticated it: "+
			"the head was altered, and events after %d may have been deleted", head.Seq, authSeq, head.Seq)})
	case head.MAC == "":
		res.HeadUnauthenticated = true
	default:
		want, err := HeadMAC(key, head.Seq, head.Hash)
		if err != nil {
			return res, err
		}
		if !hmac.Equal([]byte(want), []byte(head.MAC)) {
			add(Problem{head.Seq, "head", fmt.Sprintf("the chain head (event %d) does not match its MAC: "+
				"the head was altered, and events after %d may have been deleted", head.Seq, head.Seq)})
		}
	}
	return res, nil
}

package audit

import (
	"context"
	"fmt"
)

// Problem is one break in the chain found by Verify.
type Problem struct {
	Seq    int64
	ID     string
	Reason string
}

func (p Problem) String() string { return fmt.Sprintf("event %d (%s): %s", p.Seq, p.ID, p.Reason) }

// VerifyResult summarizes a verification.
type VerifyResult struct {
	Events   int64
	LastSeq  int64
	LastHash string
	Problems []Problem
}

// OK reports whether the chain is intact.
func (v VerifyResult) OK() bool { return len(v.Problems) == 0 }

// maxProblems bounds the report of a badly damaged chain.
const maxProblems = 100

// Verify walks the whole chain and reports every event whose hash does not
// match its content (edited), whose prev_hash does not match its predecessor
// (inserted or deleted), or whose seq skips (deleted). It also checks that
// the last event is the head the store holds, which catches a deleted tail.
func Verify(ctx context.Context, store Store, key []byte, progress func(n int64)) (VerifyResult, error) {
	var res VerifyResult
	var prevHash string
	var prevSeq int64
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
	var headSeq int64
	var headHash string
	for attempt := 0; ; attempt++ {
		err := store.InTx(ctx, func(ctx context.Context) error {
			var err error
			headSeq, headHash, err = store.AuditHead(ctx)
			return err
		})
		if err != nil {
			return res, err
		}
		if headSeq <= prevSeq || attempt == 3 {
			break
		}
		if err := store.ScanAudit(ctx, prevSeq, check); err != nil {
			return res, err
		}
	}
	res.LastSeq, res.LastHash = prevSeq, prevHash
	switch {
	case headSeq < prevSeq:
		add(Problem{prevSeq, "head", fmt.Sprintf("events after the chain head %d exist: events were inserted at the end", headSeq)})
	case headSeq != prevSeq || headHash != prevHash:
		add(Problem{headSeq, "head", fmt.Sprintf("the chain head says event %d but the last event is %d: events were deleted from the end", headSeq, prevSeq)})
	}
	return res, nil
}

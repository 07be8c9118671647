package sdk_test

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// exampleRunner is the testing.TB of an Example function: Examples have no
// *testing.T, so cleanups run when the process's tests end (TestMain).
type exampleRunner struct {
	testing.TB // nil: only the methods below are used
	mu         sync.Mutex
	cleanups   []func()
}

var examples = &exampleRunner{}

func exampleTB() testing.TB { return examples }

func (e *exampleRunner) Helper() {}
func (e *exampleRunner) TempDir() string {
	d, err := os.MkdirTemp("", "sdk-example-")
	if err != nil {
		panic(err)
	}
	e.Cleanup(func() { os.RemoveAll(d) })
	return d
}
func (e *exampleRunner) Cleanup(f func()) {
	e.mu.Lock()
	e.cleanups = append(e.cleanups, f)
	e.mu.Unlock()
}
func (e *exampleRunner) Fatal(args ...any) { panic(fmt.Sprint(args...)) }
func (e *exampleRunner) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
func (e *exampleRunner) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(examples.cleanups) - 1; i >= 0; i-- {
		examples.cleanups[i]()
	}
	os.Exit(code)
}

package internal_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestFeaturePackagesStayPure enforces the dependency direction of
// docs/architecture.md: domain packages import neither HTTP nor SQL, so the
// rules of Gatehouse can be read, tested and reused without a server or a
// database in the way.
func TestFeaturePackagesStayPure(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	forbidden := []string{"net/http", "database/sql", "github.com/jackc/pgx", "modernc.org/sqlite",
		"github.com/gatehouse/gatehouse/internal/server", "github.com/gatehouse/gatehouse/internal/store",
		"github.com/gatehouse/gatehouse/internal/app", "github.com/gatehouse/gatehouse/internal/config"}
	features := []string{"apperr", "secret", "user", "rbac", "oauth", "audit", "signing", "ratelimit", "mfa", "apikey"}
	for _, f := range features {
		pkg := "github.com/gatehouse/gatehouse/internal/" + f
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput() // #nosec G204 -- fixed arguments
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, bad := range forbidden {
				if dep == bad || strings.HasPrefix(dep, bad+"/") {
					t.Errorf("%s depends on %s; feature packages must not import HTTP, SQL, or the packages above them", pkg, dep)
				}
			}
		}
	}
}

// TestServerDoesNotImportStore keeps handlers talking to services, not SQL.
func TestServerDoesNotImportStore(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/gatehouse/gatehouse/internal/server").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "github.com/gatehouse/gatehouse/internal/store" || dep == "database/sql" {
			t.Errorf("internal/server depends on %s; handlers call services, never storage", dep)
		}
	}
}

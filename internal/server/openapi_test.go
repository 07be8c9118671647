package server

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestOpenAPIListsEveryRoute keeps docs/openapi.yaml in step with routes.go.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	doc, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec := string(doc)
	mux := &recordingMux{}
	(&Server{}).routes(mux)
	if len(mux.patterns) < 20 {
		t.Fatalf("only %d routes recorded", len(mux.patterns))
	}
	for _, p := range mux.patterns {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			continue // the catch-all
		}
		pathRE := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(path) + `:\n((?:    .*\n)*)`)
		m := pathRE.FindStringSubmatch(spec)
		if m == nil {
			t.Errorf("docs/openapi.yaml lacks the path %s", path)
			continue
		}
		if !strings.Contains(m[1], "    "+strings.ToLower(method)+":") {
			t.Errorf("docs/openapi.yaml lacks %s %s", method, path)
		}
	}
}

type recordingMux struct{ patterns []string }

func (m *recordingMux) Handle(pattern string, _ http.Handler) {
	m.patterns = append(m.patterns, pattern)
}

func (m *recordingMux) Handler(*http.Request) (http.Handler, string) {
	return http.NotFoundHandler(), ""
}

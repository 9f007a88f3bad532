package devopshttp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/keystage/keystage/internal/devops"
)

// BenchmarkFind measures choosing a location for a path among the whole table.
func BenchmarkFind(b *testing.B) {
	h := &Handler{}
	if err := h.Register(Area{Name: "table", Locations: locationTable()}); err != nil {
		b.Fatal(err)
	}
	segs := strings.Split("Website/_apis/pipelines/pipelinePermissions/endpoint/11111111-1111-4111-8111-111111111111", "/")
	b.ReportAllocs()
	for b.Loop() {
		if e, _ := h.find(false, segs); e == nil {
			b.Fatal("no match")
		}
	}
}

// BenchmarkServeGetDefinition measures a whole request in-process (no TLS): PAT
// authentication, organization and project resolution, authorization, a definition read
// and its JSON.
func BenchmarkServeGetDefinition(b *testing.B) {
	hs := newHarness(b, "sqlite")
	p := hs.project("Website")
	in := devops.DefinitionInput{Name: "ci", Kind: devops.DefinitionYAML,
		Repository: devops.Repository{Kind: devops.RepositoryGit, URL: "https://example.com/r.git"}}
	d, err := hs.svc.CreateDefinition(context.Background(), hs.org, p, hs.org.CreatedBy, in)
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/fabrikam/Website/_apis/build/definitions/"+strconv.Itoa(d.ID)+"?api-version=7.1", nil)
	req.Header.Set("Authorization", basic(hs.OwnerPAT))
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		hs.h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d %s", w.Code, w.Body)
		}
	}
}

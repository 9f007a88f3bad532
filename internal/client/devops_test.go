package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// devopsAuthorized reports whether r carries a DevOps token or the PAT "pat".
func devopsAuthorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	return h == "Bearer tok|"+DevOpsResource || h == "Basic "+base64.StdEncoding.EncodeToString([]byte(":pat"))
}

func wrappedException(w http.ResponseWriter, status int, typeKey, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"$id":"1","innerException":null,"message":%q,"typeName":"X, Y","typeKey":%q,"errorCode":0,"eventId":3000}`, msg, typeKey)
}

func TestDevOpsAuthenticationAndVersion(t *testing.T) {
	f := newFakeServer(t)
	var seen []string
	f.mux.HandleFunc("GET /fabrikam/_apis/projects/{p}", func(w http.ResponseWriter, r *http.Request) {
		if !devopsAuthorized(r) {
			wrappedException(w, 401, "UnauthorizedRequestException", "no")
			return
		}
		seen = append(seen, r.URL.Query().Get("api-version")+" "+r.PathValue("p"))
		fmt.Fprint(w, `{"id":"p1"}`)
	})
	c := f.client(t, "s3cret")
	ctx := context.Background()
	if _, err := c.DevOps().Project(ctx, "fabrikam", "My Proj"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DevOps().WithPAT("pat").Project(ctx, "fabrikam", "p"); err != nil {
		t.Fatalf("with a PAT: %v", err)
	}
	if _, err := c.DevOps().Do(ctx, http.MethodGet, "/fabrikam/_apis/projects/q?api-version=5.0", nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"7.1 My Proj", "7.1 p", "5.0 q"}, seen); diff != "" {
		t.Errorf("api-version and escaped names (-want +got):\n%s", diff)
	}
	if _, err := c.DevOps().WithPAT("other").Project(ctx, "fabrikam", "p"); err == nil {
		t.Error("a wrong PAT was accepted")
	}
}

func TestDevOpsErrors(t *testing.T) {
	f := newFakeServer(t)
	f.mux.HandleFunc("GET /fabrikam/_apis/projects/missing", func(w http.ResponseWriter, r *http.Request) {
		wrappedException(w, 404, "ProjectDoesNotExistWithNameException", "TF200016: The following project does not exist: missing.")
	})
	f.mux.HandleFunc("GET /fabrikam/p/_apis/serviceendpoint/endpoints/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "null")
	})
	f.mux.HandleFunc("GET /fabrikam/_apis/oidc", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(405)
		fmt.Fprint(w, `{"count":1,"value":{"Message":"The requested resource does not support http method 'GET'."}}`)
	})
	c := f.client(t, "s3cret")
	ctx := context.Background()
	tests := []struct {
		name   string
		call   func() error
		status int
		msg    string
	}{
		{"wrapped exception", func() error { _, err := c.DevOps().Project(ctx, "fabrikam", "missing"); return err },
			404, "TF200016: The following project does not exist: missing."},
		{"endpoint null", func() error { _, err := c.DevOps().ServiceEndpoint(ctx, "fabrikam", "p", "e1"); return err },
			404, "Service connection e1 could not be found in project p."},
		{"asp.net shape", func() error { _, err := c.DevOps().Do(ctx, http.MethodGet, "/fabrikam/_apis/oidc", nil); return err },
			405, "The requested resource does not support http method 'GET'."},
		{"no body", func() error { _, err := c.DevOps().Do(ctx, http.MethodGet, "/fabrikam/_apis/nothing", nil); return err },
			404, "GET " + f.URL + "/fabrikam/_apis/nothing: 404 Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var re *ResponseError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a *ResponseError", err)
			}
			if re.StatusCode != tt.status || re.Message != tt.msg || re.Code != "" {
				t.Errorf("got status %d message %q code %q, want %d %q and no code", re.StatusCode, re.Message, re.Code, tt.status, tt.msg)
			}
		})
	}
}

func TestDevOpsListFollowsContinuation(t *testing.T) {
	f := newFakeServer(t)
	f.mux.HandleFunc("GET /fabrikam/p/_apis/build/builds", func(w http.ResponseWriter, r *http.Request) {
		switch tok := r.URL.Query().Get("continuationToken"); tok {
		case "":
			if r.URL.Query().Get("definitions") != "3" {
				t.Errorf("definitions = %q", r.URL.Query().Get("definitions"))
			}
			w.Header().Set("X-MS-ContinuationToken", "7")
			fmt.Fprint(w, `{"count":2,"value":[{"id":9},{"id":8}]}`)
		case "7":
			fmt.Fprint(w, `{"count":1,"value":[{"id":7}]}`)
		default:
			t.Errorf("continuationToken = %q", tok)
		}
	})
	f.mux.HandleFunc("GET /fabrikam/p/_apis/build/loop", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-MS-ContinuationToken", "1")
		fmt.Fprint(w, `{"count":0,"value":[]}`)
	})
	c := f.client(t, "s3cret")
	ctx := context.Background()
	items, err := c.DevOps().Builds(ctx, "fabrikam", "p", BuildFilter{DefinitionIDs: []int{3}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	for _, it := range items {
		var b struct{ ID int }
		_ = json.Unmarshal(it, &b)
		ids = append(ids, b.ID)
	}
	if diff := cmp.Diff([]int{9, 8, 7}, ids); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
	if _, err := c.DevOps().List(ctx, "/fabrikam/p/_apis/build/loop"); err == nil || !strings.Contains(err.Error(), "repeats") {
		t.Errorf("a repeating continuation token: err = %v", err)
	}
}

func TestDevOpsCreateProjectWaitsForOperation(t *testing.T) {
	f := newFakeServer(t)
	var polls atomic.Int32
	f.mux.HandleFunc("POST /fabrikam/_apis/projects", func(w http.ResponseWriter, r *http.Request) {
		var b map[string]any
		_ = json.NewDecoder(r.Body).Decode(&b)
		if b["name"] != "web" || b["visibility"] != "private" {
			t.Errorf("body %v", b)
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"id":"op1","status":"queued"}`)
	})
	f.mux.HandleFunc("GET /fabrikam/_apis/operations/op1", func(w http.ResponseWriter, r *http.Request) {
		if polls.Add(1) < 2 {
			fmt.Fprint(w, `{"id":"op1","status":"inProgress"}`)
			return
		}
		fmt.Fprint(w, `{"id":"op1","status":"succeeded"}`)
	})
	f.mux.HandleFunc("GET /fabrikam/_apis/projects/web", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"id":"p1","name":"web"}`)
	})
	f.mux.HandleFunc("DELETE /fabrikam/_apis/projects/web", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"id":"op2","status":"failed"}`)
	})
	c := f.client(t, "s3cret")
	ctx := context.Background()
	raw, err := c.DevOps().CreateProject(ctx, "fabrikam", NewProject{Name: "web", Visibility: "private"})
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != `{"id":"p1","name":"web"}` || polls.Load() != 2 {
		t.Errorf("got %s after %d polls", raw, polls.Load())
	}
	if err := c.DevOps().DeleteProject(ctx, "fabrikam", "web"); err == nil || !strings.Contains(err.Error(), "failed") {
		t.Errorf("a failed operation: err = %v", err)
	}
}

func TestDevOpsOpenStreams(t *testing.T) {
	f := newFakeServer(t)
	f.mux.HandleFunc("GET /fabrikam/p/_apis/build/builds/4/logs/2", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Header.Get("Accept") != "text/plain" || q.Get("follow") != "true" || q.Get("startLine") != "3" {
			t.Errorf("accept %q query %v", r.Header.Get("Accept"), q)
		}
		fmt.Fprint(w, "line 3\nline 4\n")
	})
	f.mux.HandleFunc("GET /fabrikam/p/_apis/build/builds/4/artifacts", func(w http.ResponseWriter, r *http.Request) {
		wrappedException(w, 404, "ArtifactNotFoundException", "Artifact nope was not found for build 4.")
	})
	c := f.client(t, "s3cret")
	ctx := context.Background()
	body, err := c.DevOps().BuildLog(ctx, "fabrikam", "p", 4, 2, 3, true)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(body)
	body.Close()
	if string(b) != "line 3\nline 4\n" {
		t.Errorf("log %q", b)
	}
	_, err = c.DevOps().BuildArtifactZip(ctx, "fabrikam", "p", 4, "nope")
	var re *ResponseError
	if !errors.As(err, &re) || re.StatusCode != 404 || re.Message != "Artifact nope was not found for build 4." {
		t.Errorf("missing artifact: err = %v", err)
	}
}

func TestPermissionUpdateBody(t *testing.T) {
	f := newFakeServer(t)
	var got string
	f.mux.HandleFunc("PATCH /fabrikam/p/_apis/pipelines/pipelinePermissions/endpoint/e1", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
		fmt.Fprint(w, `{}`)
	})
	c := f.client(t, "s3cret")
	all := true
	_, err := c.DevOps().UpdatePipelinePermissions(context.Background(), "fabrikam", "p", "endpoint", "e1",
		PermissionUpdate{AllPipelines: &all, Pipelines: map[int]bool{3: true, 1: false}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"allPipelines":{"authorized":true},"pipelines":[{"authorized":false,"id":1},{"authorized":true,"id":3}]}`
	if got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}

func FuzzNewDevOpsError(f *testing.F) {
	f.Add(404, []byte(`{"$id":"1","message":"TF200016: x","typeKey":"ProjectDoesNotExistWithNameException"}`))
	f.Add(405, []byte(`{"count":1,"value":{"Message":"nope"}}`))
	f.Add(500, []byte(`<html>`))
	f.Add(401, []byte(`{"value":null,"message":""}`))
	f.Add(400, []byte(``))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := newDevOpsError(http.MethodGet, "https://h/x?secret=1", status, body)
		if e.Message == "" {
			t.Error("empty message")
		}
		if strings.Contains(e.URL, "secret") {
			t.Error("the query leaked into the URL")
		}
	})
}

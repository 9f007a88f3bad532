package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/build"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/pipelines"

	"github.com/keystage/keystage/internal/listener"
	"github.com/keystage/keystage/internal/server"
	"github.com/keystage/keystage/internal/server/servertest"
	"github.com/keystage/keystage/internal/storage/postgres/pgtest"
	"github.com/keystage/keystage/internal/task"
)

// TestRunsAcrossServerRestart runs a pipeline on an agent through the real server, queues a
// run no agent can take yet, restarts the server on the same data directory and database,
// and checks that the finished run (build, log) is intact and the queued run runs — on
// SQLite and on PostgreSQL.
func TestRunsAcrossServerRestart(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := ""
			if backend == "postgres" {
				dsn = pgtest.DSN(t)
			}
			dataDir := t.TempDir()
			opts := servertest.Options{Database: dsn, Config: func(c *server.Config) { c.DataDir = dataDir }}
			repo := t.TempDir()
			if err := os.WriteFile(filepath.Join(repo, "azure-pipelines.yml"), []byte(`
parameters:
- name: pool
  default: Default
pool: ${{ parameters.pool }}
steps:
- checkout: none
- bash: echo "hello from $(Agent.Name) in $(System.TeamProject)"
  displayName: Greet
`), 0o644); err != nil {
				t.Fatal(err)
			}
			var pat string
			var finished, queued, pipelineID int
			t.Run("before", func(t *testing.T) {
				e := servertest.Start(t, opts)
				pat = setUp(t, e, repo, &pipelineID)
				startListener(t, e, pat, "Default", "agent-1")
				finished = runAndWait(t, e, pat, pipelineID, nil)
				// No agent serves the hosted pool: this run stays queued.
				queued = queue(t, e, pat, pipelineID, map[string]string{"pool": "Azure Pipelines"})
			})
			t.Run("after", func(t *testing.T) {
				e := servertest.Start(t, opts)
				ctx := context.Background()
				bc, err := build.NewClient(ctx, devopsConn(e, pat))
				if err != nil {
					t.Fatal(err)
				}
				b, err := bc.GetBuild(ctx, build.GetBuildArgs{Project: ptr("webapp"), BuildId: &finished})
				if err != nil || *b.Result != build.BuildResultValues.Succeeded {
					t.Fatalf("finished run after restart = %v, %v", b, err)
				}
				tl, err := bc.GetBuildTimeline(ctx, build.GetBuildTimelineArgs{Project: ptr("webapp"), BuildId: &finished})
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, r := range *tl.Records {
					if *r.Name == "Greet" {
						lines, err := bc.GetBuildLogLines(ctx, build.GetBuildLogLinesArgs{Project: ptr("webapp"), BuildId: &finished, LogId: r.Log.Id})
						found = err == nil && strings.Contains(strings.Join(*lines, "\n"), "hello from agent-1 in webapp")
					}
				}
				if !found {
					t.Error("the finished run's log is gone after the restart")
				}
				q, err := bc.GetBuild(ctx, build.GetBuildArgs{Project: ptr("webapp"), BuildId: &queued})
				if err != nil || *q.Status == build.BuildStatusValues.Completed {
					t.Fatalf("queued run after restart = %v, %v", q, err)
				}
				startListener(t, e, pat, "Azure Pipelines", "hosted-1")
				waitRun(t, e, pat, pipelineID, queued)
			})
		})
	}
}

func ptr[T any](v T) *T { return &v }

func basic(pat string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+pat)) }

func devopsConn(e *servertest.Env, pat string) *azuredevops.Connection {
	c := azuredevops.NewPatConnection(e.URL+"/fabrikam", pat)
	c.TlsConfig = &tls.Config{RootCAs: e.CAPool}
	return c
}

// send issues a JSON request and decodes the answer.
func send(t *testing.T, e *servertest.Env, method, path, auth string, body, out any, want int) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, e.URL+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json;api-version=7.1")
	resp, err := e.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatal(err)
		}
	}
}

// setUp creates the organization, project, PAT and pipeline with the administrator's
// credential and returns the PAT.
func setUp(t *testing.T, e *servertest.Env, repo string, pipelineID *int) string {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(e.Admin.TenantID, e.Admin.ClientID, e.Admin.ClientSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            policy.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: e.URL + "/"}, Transport: e.Client},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"499b84ac-1321-427f-aa17-267ca6975798/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	jwt := "Bearer " + tok.Token
	send(t, e, "POST", "/_apis/organizations", jwt, map[string]any{"name": "fabrikam"}, nil, 201)
	send(t, e, "POST", "/fabrikam/_apis/projects", jwt, map[string]any{"name": "webapp"}, nil, 202)
	var pat struct {
		PatToken struct {
			Token string `json:"token"`
		} `json:"patToken"`
	}
	send(t, e, "POST", "/fabrikam/_apis/tokens/pats", jwt, map[string]string{"displayName": "runs"}, &pat, 200)
	var pl struct {
		ID int `json:"id"`
	}
	send(t, e, "POST", "/fabrikam/webapp/_apis/pipelines", basic(pat.PatToken.Token), map[string]any{
		"name": "greet", "configuration": map[string]any{"type": "yaml", "path": "azure-pipelines.yml",
			"repository": map[string]string{"type": "local", "url": repo, "defaultBranch": "refs/heads/main"}},
	}, &pl, 200)
	*pipelineID = pl.ID
	return pat.PatToken.Token
}

func startListener(t *testing.T, e *servertest.Env, pat, pool, name string) {
	t.Helper()
	l, err := listener.New(listener.Config{URL: e.URL + "/fabrikam", Pool: pool, Token: pat, Name: name,
		WorkDir: t.TempDir(), Tasks: task.Builtins(), HTTPClient: e.Client})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent %s: %v", name, err)
		}
	})
}

func queue(t *testing.T, e *servertest.Env, pat string, id int, params map[string]string) int {
	t.Helper()
	ctx := context.Background()
	rp := &pipelines.RunPipelineParameters{}
	if params != nil {
		rp.TemplateParameters = &params
	}
	run, err := pipelines.NewClient(ctx, devopsConn(e, pat)).RunPipeline(ctx, pipelines.RunPipelineArgs{
		Project: ptr("webapp"), PipelineId: &id, RunParameters: rp})
	if err != nil {
		t.Fatalf("RunPipeline: %v", err)
	}
	return *run.Id
}

func waitRun(t *testing.T, e *servertest.Env, pat string, pipelineID, runID int) {
	t.Helper()
	ctx := context.Background()
	pc := pipelines.NewClient(ctx, devopsConn(e, pat))
	deadline := time.Now().Add(60 * time.Second)
	for {
		r, err := pc.GetRun(ctx, pipelines.GetRunArgs{Project: ptr("webapp"), PipelineId: &pipelineID, RunId: &runID})
		if err != nil {
			t.Fatal(err)
		}
		if *r.State == pipelines.RunStateValues.Completed {
			if *r.Result != pipelines.RunResultValues.Succeeded {
				t.Fatalf("run %d: %s", runID, *r.Result)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %d did not complete", runID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runAndWait(t *testing.T, e *servertest.Env, pat string, id int, params map[string]string) int {
	t.Helper()
	run := queue(t, e, pat, id, params)
	waitRun(t, e, pat, id, run)
	return run
}

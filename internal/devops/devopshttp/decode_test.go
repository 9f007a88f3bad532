package devopshttp

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/fault"
)

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, body, contains string
	}{
		{"empty", "", "empty"},
		{"spaces", "  \n", "empty"},
		{"syntax", `{"name":`, "truncated"},
		{"garbage", `{"name" "x"}`, "not valid JSON"},
		{"trailing", `{"name":"x"} {}`, "after its JSON value"},
		{"wrong type", `{"name":1}`, "name must be a string"},
		{"data number", `{"data":{"subscriptionId":1}}`, "data must be a string"},
		{"array for object", `[]`, "must be an object"},
		{"too large", `{"name":"` + strings.Repeat("x", maxBodyBytes) + `"}`, "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b endpointBody
			err := decodeBytes([]byte(tc.body), &b)
			fe, _ := fault.As(err)
			if err == nil || fe.Kind != fault.BadRequest || !strings.Contains(fe.Message, tc.contains) {
				t.Fatalf("decode = %v, want a 400 containing %q", err, tc.contains)
			}
		})
	}
	var b endpointBody
	if err := decodeBytes([]byte("\xef\xbb\xbf{\"name\":\"bom\"}"), &b); err != nil || b.Name != "bom" {
		t.Fatalf("BOM: %v %+v", err, b)
	}
}

// FuzzDecodeBodies feeds arbitrary bytes to every request body shape and its conversion
// to the domain: never a panic, and every failure a 400 (or the domain's classified
// error).
func FuzzDecodeBodies(f *testing.F) {
	for _, s := range []string{
		`{"name":"sc","type":"AzureRM","authorization":{"scheme":"WorkloadIdentityFederation","parameters":{"tenantid":"x","serviceprincipalkey":null}},"data":{"subscriptionId":"s"},"serviceEndpointProjectReferences":[{"projectReference":{"id":"p"}}]}`,
		`{"name":"ci","path":"\\a","process":{"type":2,"yamlFilename":"a.yml"},"repository":{"type":"Git","url":"https://x/y.git"},"variables":{"v":{"value":null,"isSecret":true}}}`,
		`{"name":"c","process":{"type":1,"phases":[{"refName":"Job_1","target":{"type":1,"queue":{"id":1},"executionOptions":{"type":0}},"steps":[{"task":{"id":"d9bafed4-0b18-4f58-968d-86655b4d2ce9","versionSpec":"2.*"},"inputs":{"script":"echo"}}]}]},"repository":{"type":"Local","url":"/srv"}}`,
		`{"name":"p","configuration":{"type":"yaml","path":"a.yml","repository":{"type":"gitHub","fullName":"o/r"}}}`,
		`[{"resource":{"type":"endpoint","id":"x"},"allPipelines":{"authorized":true},"pipelines":[{"id":1,"authorized":false}]}]`,
		`{"pipelines":[{"id":1}]}`, `[{"type":"endpoint","id":"e","authorized":true}]`, `{"name":"x","capabilities":{"processTemplate":{"templateTypeId":"t"}}}`,
		`null`, `[]`, `{}`, `"x"`, `{"process":{"type":3}}`,
	} {
		f.Add([]byte(s))
	}
	rq := &Request{R: httptest.NewRequest("POST", "/o/p/_apis/x", nil)}
	check := func(t *testing.T, what string, err error) {
		if err == nil {
			return
		}
		fe, classified := fault.As(err)
		if !classified || fe.Kind == fault.Internal {
			t.Fatalf("%s: unclassified error %v", what, err)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var e endpointBody
		if err := decodeBytes(body, &e); err == nil {
			_ = e.input(rq)
		} else {
			check(t, "endpoint", err)
		}
		var d definitionBody
		if err := decodeBytes(body, &d); err == nil {
			// input may need the domain only for queues by name; give none.
			if d.Queue != nil {
				d.Queue.Name = ""
			}
			if d.Process != nil {
				for i := range d.Process.Phases {
					if tg := d.Process.Phases[i].Target; tg != nil {
						tg.Queue = nil
					}
				}
			}
			_, err := d.input(rq)
			check(t, "definition", err)
		} else {
			check(t, "definition", err)
		}
		var p pipelineBody
		if err := decodeBytes(body, &p); err == nil && p.Configuration != nil {
			_, err := p.Configuration.Repository.repository()
			check(t, "pipeline repository", err)
		} else {
			check(t, "pipeline", err)
		}
		var perms []permissionsBody
		if err := decodeBytes(body, &perms); err == nil {
			for _, pb := range perms {
				_, err := pb.update()
				check(t, "permissions", err)
			}
		} else {
			check(t, "permissions", err)
		}
		var refs []resourceRefBody
		check(t, "resource refs", decodeBytes(body, &refs))
		var proj projectBody
		check(t, "project", decodeBytes(body, &proj))
	})
}

func TestCredential(t *testing.T) {
	tests := []struct {
		name, header, want string
		ok                 bool
	}{
		{"bearer", "Bearer abc", "abc", true},
		{"bearer any case", "bearer  abc ", "abc", true},
		{"basic password", "Basic " + b64(":pat"), "pat", true},
		{"basic user only", "Basic " + b64("pat:"), "pat", true},
		{"basic user and password", "Basic " + b64("me:pat"), "pat", true},
		{"basic password with colon", "Basic " + b64(":a:b"), "a:b", true},
		{"empty", "", "", false},
		{"empty bearer", "Bearer ", "", false},
		{"empty basic", "Basic " + b64(":"), "", false},
		{"bad base64", "Basic !!", "", false},
		{"other scheme", "NTLM abc", "", false},
		{"huge", "Bearer " + strings.Repeat("a", maxCredentialBytes), "", false},
	}
	for _, tc := range tests {
		got, err := credential(tc.header)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s: credential = %q, %v; want %q ok=%v", tc.name, got, err, tc.want, tc.ok)
		}
		if err != nil && !fault.Is(err, fault.Unauthorized) {
			t.Errorf("%s: %v is not a 401", tc.name, err)
		}
	}
}

func FuzzCredential(f *testing.F) {
	for _, s := range []string{"Bearer x.y.z", "Basic " + b64(":pat"), "Basic " + b64("u:"), "basic", "Bearer", "Basic ::::", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, err := credential(header)
		if err != nil {
			if !fault.Is(err, fault.Unauthorized) {
				t.Fatalf("%q: %v is not a 401", header, err)
			}
			if tok != "" {
				t.Fatalf("%q: token %q with an error", header, tok)
			}
			return
		}
		if tok == "" {
			t.Fatalf("%q: empty token without an error", header)
		}
		fe, _ := fault.As(devops.ErrUnauthorized("x"))
		if strings.Contains(fe.Message, tok) && len(tok) > 3 {
			t.Fatalf("the 401 message quotes the token")
		}
	})
}

package conformance

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/keystage/keystage/internal/server/servertest"
)

// TestConformance runs the conformance cases of keyvault.md §6 with azsecrets v1.5.1 and
// the administrator's ClientSecretCredential, on SQLite and on PostgreSQL. Cases 15 and 16
// need a differently configured server and are in their own tests; case 18 is
// TestCredentials.
func TestConformance(t *testing.T) {
	servertest.Each(t, servertest.Options{}, func(t *testing.T, e *servertest.Env) {
		h := newHarness(t, e)
		h.vault("conformance", vaultSpec{retentionDays: 7})
		h.vault("protected", vaultSpec{purgeProtection: true})

		t.Run("01 challenge handshake", func(t *testing.T) {
			rec := &recorder{next: e.Client}
			c := h.secrets("conformance", h.cred, func(o *azsecrets.ClientOptions) { o.Transport = rec })
			if _, err := c.SetSecret(ctx(t), "handshake", azsecrets.SetSecretParameters{Value: ptr("v")}, nil); err != nil {
				t.Fatal(err)
			}
			log := rec.exchanges()
			if len(log) != 2 {
				t.Fatalf("exchanges %+v, want a 401 then a 200", log)
			}
			if log[0].Method != "PUT" || log[0].BodyLen != 0 || log[0].Status != 401 || log[0].Challenge == "" {
				t.Errorf("first exchange %+v, want an empty PUT answered 401 with a challenge", log[0])
			}
			if log[1].BodyLen == 0 || log[1].Status != 200 {
				t.Errorf("second exchange %+v, want the PUT with its body answered 200", log[1])
			}
			// The challenge comes before any validation: an invalid body and api-version
			// still get 401 without a token.
			for _, target := range []string{"/secrets/a_b?api-version=banana", "/secrets/x"} {
				status, _ := h.call("PUT", strings.TrimSuffix(e.VaultURL("conformance"), "/")+target, "", "{bad", nil)
				if status != 401 {
					t.Errorf("unauthenticated PUT %s: %d, want 401", target, status)
				}
			}
		})

		t.Run("02 challenge resource verification", func(t *testing.T) {
			c := h.secrets("conformance", h.cred, nil)
			if _, err := c.GetSecret(ctx(t), "handshake", "", nil); err != nil {
				t.Fatalf("default ClientOptions: %v", err)
			}
			// Negative control: the same server reached through another port, so the
			// challenge resource (with the real port) does not cover the host.
			wrong, err := azsecrets.NewClient(fmt.Sprintf("https://conformance.%s:1/", e.VaultSuffix), h.cred, &azsecrets.ClientOptions{ClientOptions: h.clientOptions()})
			if err != nil {
				t.Fatal(err)
			}
			_, err = wrong.GetSecret(ctx(t), "handshake", "", nil)
			if err == nil || !strings.Contains(err.Error(), "doesn't match the requested domain") {
				t.Errorf("mismatched resource: %v, want the SDK's challenge-resource error", err)
			}
		})

		c := h.secrets("conformance", h.cred, nil)

		t.Run("03 set and get round-trip", func(t *testing.T) {
			nbf := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			set, err := c.SetSecret(ctx(t), "Round-Trip", azsecrets.SetSecretParameters{
				Value: ptr("s3cr3t\n with unicode ✓"), ContentType: ptr("text/plain"),
				Tags:             map[string]*string{"env": ptr("prod"), "team": ptr("kv")},
				SecretAttributes: &azsecrets.SecretAttributes{Enabled: ptr(true), NotBefore: &nbf, Expires: &exp},
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if set.ID.Name() != "Round-Trip" || len(set.ID.Version()) != 32 || lower(set.ID.Version()) != set.ID.Version() {
				t.Errorf("id %s: name %q version %q", *set.ID, set.ID.Name(), set.ID.Version())
			}
			got, err := c.GetSecret(ctx(t), "round-trip", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if *got.Value != "s3cr3t\n with unicode ✓" || *got.ContentType != "text/plain" || *got.Tags["env"] != "prod" || *got.ID != *set.ID {
				t.Errorf("got %+v", got.Secret)
			}
			a := got.Attributes
			if !*a.Enabled || !a.NotBefore.Equal(nbf) || !a.Expires.Equal(exp) || a.Created == nil || a.Updated == nil || time.Since(*a.Created) > time.Minute {
				t.Errorf("attributes %+v", a)
			}
			if *a.RecoveryLevel != "CustomizedRecoverable+Purgeable" || *a.RecoverableDays != 7 {
				t.Errorf("recovery %s %d", *a.RecoveryLevel, *a.RecoverableDays)
			}
		})

		t.Run("04 latest and specific versions", func(t *testing.T) {
			v1, err := c.SetSecret(ctx(t), "versions", azsecrets.SetSecretParameters{Value: ptr("one")}, nil)
			if err != nil {
				t.Fatal(err)
			}
			v2, err := c.SetSecret(ctx(t), "versions", azsecrets.SetSecretParameters{Value: ptr("two")}, nil)
			if err != nil {
				t.Fatal(err)
			}
			latest, err := c.GetSecret(ctx(t), "versions", "", nil)
			if err != nil || *latest.Value != "two" || latest.ID.Version() != v2.ID.Version() {
				t.Fatalf("latest = %v, %v", latest.Secret, err)
			}
			old, err := c.GetSecret(ctx(t), "versions", v1.ID.Version(), nil)
			if err != nil || *old.Value != "one" {
				t.Fatalf("v1 = %v, %v", old.Secret, err)
			}
		})

		t.Run("05 update properties", func(t *testing.T) {
			v1, _ := c.SetSecret(ctx(t), "updated", azsecrets.SetSecretParameters{Value: ptr("one")}, nil)
			v2, _ := c.SetSecret(ctx(t), "updated", azsecrets.SetSecretParameters{Value: ptr("two")}, nil)
			time.Sleep(1100 * time.Millisecond) // updated is in whole seconds
			up, err := c.UpdateSecretProperties(ctx(t), "updated", "", azsecrets.UpdateSecretPropertiesParameters{ContentType: ptr("latest")}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if up.Value != nil || up.ID.Version() != v2.ID.Version() || *up.ContentType != "latest" || !up.Attributes.Updated.After(*up.Attributes.Created) {
				t.Errorf("update latest: %+v", up.Secret)
			}
			up, err = c.UpdateSecretProperties(ctx(t), "updated", v1.ID.Version(), azsecrets.UpdateSecretPropertiesParameters{ContentType: ptr("first")}, nil)
			if err != nil || up.ID.Version() != v1.ID.Version() || *up.ContentType != "first" {
				t.Fatalf("update v1: %+v %v", up.Secret, err)
			}
			got, _ := c.GetSecret(ctx(t), "updated", "", nil)
			if *got.Value != "two" || *got.ContentType != "latest" {
				t.Errorf("after updates: %+v", got.Secret)
			}
		})

		t.Run("06 disabled secret", func(t *testing.T) {
			c.SetSecret(ctx(t), "disabled", azsecrets.SetSecretParameters{Value: ptr("v")}, nil)
			if _, err := c.UpdateSecretProperties(ctx(t), "disabled", "", azsecrets.UpdateSecretPropertiesParameters{SecretAttributes: &azsecrets.SecretAttributes{Enabled: ptr(false)}}, nil); err != nil {
				t.Fatal(err)
			}
			_, err := c.GetSecret(ctx(t), "disabled", "", nil)
			if status, ec := code(err); status != 403 || ec != "Forbidden" {
				t.Errorf("get disabled: %d %s", status, ec)
			}
			found := false
			for pager := c.NewListSecretPropertiesPager(nil); pager.More(); {
				page, err := pager.NextPage(ctx(t))
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range page.Value {
					if p.ID.Name() == "disabled" {
						found = !*p.Attributes.Enabled
					}
				}
			}
			if !found {
				t.Error("the disabled secret is not listed with enabled=false")
			}
		})

		t.Run("07 not found", func(t *testing.T) {
			_, err := c.GetSecret(ctx(t), "no-such-secret", "", nil)
			if status, ec := code(err); status != 404 || ec != "SecretNotFound" {
				t.Errorf("get: %d %s", status, ec)
			}
			_, err = c.GetDeletedSecret(ctx(t), "no-such-secret", nil)
			if status, ec := code(err); status != 404 || ec != "SecretNotFound" {
				t.Errorf("get deleted: %d %s", status, ec)
			}
		})

		t.Run("08 name and size validation", func(t *testing.T) {
			tests := []struct {
				name, value string
				ct          *string
				tags        int
				want        int
			}{
				{"a_b", "v", nil, 0, 400},
				{strings.Repeat("n", 128), "v", nil, 0, 400},
				{strings.Repeat("n", 127), "v", nil, 0, 200},
				{"big", strings.Repeat("x", 25600), nil, 0, 200},
				{"bigger", strings.Repeat("x", 25601), nil, 0, 400},
				{"ct", "v", ptr(strings.Repeat("c", 256)), 0, 400},
				{"tags", "v", nil, 16, 400},
				{"tags15", "v", nil, 15, 200},
			}
			for _, tt := range tests {
				tags := map[string]*string{}
				for i := range tt.tags {
					tags[fmt.Sprint("t", i)] = ptr("v")
				}
				_, err := c.SetSecret(ctx(t), tt.name, azsecrets.SetSecretParameters{Value: &tt.value, ContentType: tt.ct, Tags: tags}, nil)
				status, ec := code(err)
				if status != tt.want || (tt.want == 400 && ec != "BadParameter") {
					t.Errorf("%.20s (%d bytes): %d %s, want %d", tt.name, len(tt.value), status, ec, tt.want)
				}
			}
		})

		t.Run("09 paging", func(t *testing.T) {
			h.vault("paging", vaultSpec{})
			rec := &recorder{next: e.Client}
			pc := h.secrets("paging", h.cred, func(o *azsecrets.ClientOptions) { o.Transport = rec })
			for i := range 60 {
				if _, err := pc.SetSecret(ctx(t), fmt.Sprintf("p%02d", i), azsecrets.SetSecretParameters{Value: ptr("v")}, nil); err != nil {
					t.Fatal(err)
				}
			}
			versions := map[string]bool{}
			for range 30 {
				s, err := pc.SetSecret(ctx(t), "p00", azsecrets.SetSecretParameters{Value: ptr("v")}, nil)
				if err != nil {
					t.Fatal(err)
				}
				versions[s.ID.Version()] = true
			}
			rec.reset()
			seen := map[string]int{}
			for pager := pc.NewListSecretPropertiesPager(nil); pager.More(); {
				page, err := pager.NextPage(ctx(t))
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range page.Value {
					seen[p.ID.Name()]++
					if p.ID.Version() != "" {
						t.Errorf("list id %s has a version", *p.ID)
					}
				}
			}
			if len(seen) != 60 {
				t.Errorf("listed %d secrets, want 60", len(seen))
			}
			for n, k := range seen {
				if k != 1 {
					t.Errorf("%s listed %d times", n, k)
				}
			}
			seenV := map[string]int{}
			for pager := pc.NewListSecretPropertiesVersionsPager("p00", nil); pager.More(); {
				page, err := pager.NextPage(ctx(t))
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range page.Value {
					seenV[p.ID.Version()]++
				}
			}
			if len(seenV) != 31 {
				t.Errorf("listed %d versions, want 31", len(seenV))
			}
			for v := range versions {
				if seenV[v] != 1 {
					t.Errorf("version %s listed %d times", v, seenV[v])
				}
			}
			pages := 0
			for _, ex := range rec.exchanges() {
				if ex.Status == 200 {
					pages++
					if q, _ := url.ParseQuery(ex.Query); q.Get("api-version") == "" {
						t.Errorf("page request %s?%s has no api-version", ex.Path, ex.Query)
					}
				}
			}
			if pages < 5 {
				t.Errorf("%d pages for 60 secrets and 31 versions, want at least 5", pages)
			}
		})

		t.Run("10 soft delete", func(t *testing.T) {
			c.SetSecret(ctx(t), "deleted", azsecrets.SetSecretParameters{Value: ptr("v")}, nil)
			d, err := c.DeleteSecret(ctx(t), "deleted", nil)
			if err != nil {
				t.Fatal(err)
			}
			if d.RecoveryID == nil || !strings.HasSuffix(*d.RecoveryID, "/deletedsecrets/deleted") || d.DeletedDate == nil ||
				!d.ScheduledPurgeDate.Equal(d.DeletedDate.Add(7*24*time.Hour)) {
				t.Errorf("deleted %+v", d.DeletedSecret)
			}
			_, err = c.GetSecret(ctx(t), "deleted", "", nil)
			if status, _ := code(err); status != 404 {
				t.Errorf("get after delete: %d", status)
			}
			_, err = c.SetSecret(ctx(t), "deleted", azsecrets.SetSecretParameters{Value: ptr("again")}, nil)
			var re *azcore.ResponseError
			if status, ec := code(err); status != 409 || ec != "Conflict" || !asRE(err, &re) || !strings.Contains(string(rawBody(re)), "ObjectIsDeletedButRecoverable") {
				t.Errorf("set on deleted: %d %s", status, ec)
			}
			if !deletedListed(t, c, "deleted") {
				t.Error("not in the deleted list")
			}
		})

		t.Run("11 recover", func(t *testing.T) {
			v1, _ := c.SetSecret(ctx(t), "recovered", azsecrets.SetSecretParameters{Value: ptr("one")}, nil)
			v2, _ := c.SetSecret(ctx(t), "recovered", azsecrets.SetSecretParameters{Value: ptr("two")}, nil)
			c.DeleteSecret(ctx(t), "recovered", nil)
			r, err := c.RecoverDeletedSecret(ctx(t), "recovered", nil)
			if err != nil || r.ID.Version() != v2.ID.Version() {
				t.Fatalf("recover: %+v %v", r.Secret, err)
			}
			if got, err := c.GetSecret(ctx(t), "recovered", v1.ID.Version(), nil); err != nil || *got.Value != "one" {
				t.Errorf("v1 after recover: %v", err)
			}
			if deletedListed(t, c, "recovered") {
				t.Error("still in the deleted list")
			}
		})

		t.Run("12 purge", func(t *testing.T) {
			c.SetSecret(ctx(t), "purged", azsecrets.SetSecretParameters{Value: ptr("v")}, nil)
			c.DeleteSecret(ctx(t), "purged", nil)
			rec := &recorder{next: e.Client}
			pc := h.secrets("conformance", h.cred, func(o *azsecrets.ClientOptions) { o.Transport = rec })
			if _, err := pc.PurgeDeletedSecret(ctx(t), "purged", nil); err != nil {
				t.Fatal(err)
			}
			if last := rec.exchanges()[len(rec.exchanges())-1]; last.Status != 204 {
				t.Errorf("purge status %d", last.Status)
			}
			if _, err := c.SetSecret(ctx(t), "purged", azsecrets.SetSecretParameters{Value: ptr("reused")}, nil); err != nil {
				t.Errorf("name not reusable after purge: %v", err)
			}
			p := h.secrets("protected", h.cred, nil)
			s, _ := p.SetSecret(ctx(t), "kept", azsecrets.SetSecretParameters{Value: ptr("v")}, nil)
			if strings.Contains(*s.Attributes.RecoveryLevel, "Purgeable") {
				t.Errorf("recovery level %s under purge protection", *s.Attributes.RecoveryLevel)
			}
			p.DeleteSecret(ctx(t), "kept", nil)
			_, err := p.PurgeDeletedSecret(ctx(t), "kept", nil)
			if status, _ := code(err); status != 403 {
				t.Errorf("purge under protection: %d", status)
			}
		})

		t.Run("13 backup and restore", func(t *testing.T) {
			var ids []string
			for i := range 3 {
				s, _ := c.SetSecret(ctx(t), "backed", azsecrets.SetSecretParameters{Value: ptr(fmt.Sprint("v", i))}, nil)
				ids = append(ids, string(*s.ID))
			}
			b, err := c.BackupSecret(ctx(t), "backed", nil)
			if err != nil {
				t.Fatal(err)
			}
			raw := base64.RawURLEncoding.EncodeToString(b.Value)
			if strings.Contains(raw, "=") {
				t.Error("backup blob is padded")
			}
			_, err = c.RestoreSecret(ctx(t), azsecrets.RestoreSecretParameters{SecretBackup: b.Value}, nil)
			if status, ec := code(err); status != 409 || ec != "Conflict" {
				t.Errorf("restore over an existing secret: %d %s", status, ec)
			}
			c.DeleteSecret(ctx(t), "backed", nil)
			if _, err := c.PurgeDeletedSecret(ctx(t), "backed", nil); err != nil {
				t.Fatal(err)
			}
			r, err := c.RestoreSecret(ctx(t), azsecrets.RestoreSecretParameters{SecretBackup: b.Value}, nil)
			if err != nil || string(*r.ID) != ids[2] {
				t.Fatalf("restore: %v %v", r.ID, err)
			}
			var listed []string
			for pager := c.NewListSecretPropertiesVersionsPager("backed", nil); pager.More(); {
				page, _ := pager.NextPage(ctx(t))
				for _, p := range page.Value {
					listed = append(listed, string(*p.ID))
				}
			}
			if len(listed) != 3 {
				t.Errorf("restored versions %v, want %v", listed, ids)
			}
			tampered := append([]byte(nil), b.Value...)
			tampered[len(tampered)/2] ^= 0x20
			c.DeleteSecret(ctx(t), "backed", nil)
			c.PurgeDeletedSecret(ctx(t), "backed", nil)
			_, err = c.RestoreSecret(ctx(t), azsecrets.RestoreSecretParameters{SecretBackup: tampered}, nil)
			if status, ec := code(err); status != 400 || ec != "BadParameter" {
				t.Errorf("tampered restore: %d %s", status, ec)
			}
		})

		t.Run("14 api-versions", func(t *testing.T) {
			for _, v := range []string{"7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "2025-07-01", "2026-04-01", "2031-12-01"} {
				vc := h.secrets("conformance", h.cred, func(o *azsecrets.ClientOptions) { o.APIVersion = v })
				happyPath(t, vc, "api-"+strings.ReplaceAll(v, ".", "-"))
			}
			tok, err := h.cred.GetToken(ctx(t), policyScope(h.resource()))
			if err != nil {
				t.Fatal(err)
			}
			base := strings.TrimSuffix(e.VaultURL("conformance"), "/")
			for target, want := range map[string]int{
				"/secrets/versions":                        400,
				"/secrets/versions?api-version=":           400,
				"/secrets/versions?api-version=7.9":        400,
				"/secrets/versions?api-version=2016-10-01": 200,
			} {
				if status, body := h.call("GET", base+target, tok.Token, nil, nil); status != want {
					t.Errorf("%s: %d %s, want %d", target, status, body, want)
				}
			}
		})

		t.Run("17 tenant mismatch", func(t *testing.T) {
			other := "7e57e57e-0000-4000-8000-000000000001"
			wrong, err := newSecretCred(h, other, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = h.secrets("conformance", wrong, nil).GetSecret(ctx(t), "handshake", "", nil)
			if err == nil || !strings.Contains(err.Error(), h.admin.TenantID) {
				t.Errorf("tenant mismatch: %v, want the SDK's tenant error", err)
			}
			any, _ := newSecretCred(h, other, []string{"*"})
			if _, err := h.secrets("conformance", any, nil).GetSecret(ctx(t), "handshake", "", nil); err != nil {
				t.Errorf("with AdditionallyAllowedTenants: %v", err)
			}
			status, _ := h.call("GET", e.VaultURL("conformance")+"secrets?api-version=7.6", "", nil, nil)
			rec := &recorder{next: e.Client}
			h.secrets("conformance", h.cred, func(o *azsecrets.ClientOptions) { o.Transport = rec }).GetSecret(ctx(t), "handshake", "", nil)
			for _, ex := range rec.exchanges() {
				if ex.Challenge == "" {
					continue
				}
				want := `Bearer authorization="` + e.URL + "/" + h.admin.TenantID + `", resource="` + h.resource() + `"`
				if ex.Challenge != want {
					t.Errorf("challenge %s\nwant      %s", ex.Challenge, want)
				}
			}
			if status != 401 {
				t.Errorf("unauthenticated list: %d", status)
			}
		})

		t.Run("19 http is refused by the client", func(t *testing.T) {
			hc, err := azsecrets.NewClient(fmt.Sprintf("http://conformance.%s:%d/", e.VaultSuffix, e.Port), h.cred, &azsecrets.ClientOptions{ClientOptions: h.clientOptions()})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := hc.SetSecret(ctx(t), "plain", azsecrets.SetSecretParameters{Value: ptr("v")}, nil); err == nil {
				t.Error("azsecrets sent a secret over http")
			}
		})

		t.Run("20 concurrent sets", func(t *testing.T) {
			const n = 50
			var wg sync.WaitGroup
			versions := make([]string, n)
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() {
					s, err := c.SetSecret(ctx(t), "contended", azsecrets.SetSecretParameters{Value: ptr(fmt.Sprint("value-", i))}, nil)
					errs[i] = err
					if err == nil {
						versions[i] = s.ID.Version()
					}
				})
			}
			wg.Wait()
			distinct := map[string]int{}
			for i, err := range errs {
				if err != nil {
					t.Fatalf("set %d: %v", i, err)
				}
				distinct[versions[i]] = i
			}
			if len(distinct) != n {
				t.Fatalf("%d distinct versions, want %d", len(distinct), n)
			}
			latest, err := c.GetSecret(ctx(t), "contended", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			i, ok := distinct[latest.ID.Version()]
			if !ok || *latest.Value != fmt.Sprint("value-", i) {
				t.Errorf("latest %s = %q is not one of the 50 sets", latest.ID.Version(), *latest.Value)
			}
			// Last writer wins: a set acknowledged after all the others is the latest.
			last, _ := c.SetSecret(ctx(t), "contended", azsecrets.SetSecretParameters{Value: ptr("last")}, nil)
			if got, _ := c.GetSecret(ctx(t), "contended", "", nil); *got.ID != *last.ID {
				t.Errorf("latest %s, want the last acknowledged %s", *got.ID, *last.ID)
			}
		})
	})
}

// happyPath sets, reads, updates, lists, deletes, recovers, backs up and restores one
// secret.
func happyPath(t *testing.T, c *azsecrets.Client, name string) {
	t.Helper()
	set, err := c.SetSecret(ctx(t), name, azsecrets.SetSecretParameters{Value: ptr("v1"), Tags: map[string]*string{"k": ptr("v")}}, nil)
	if err != nil {
		t.Fatalf("%s: set: %v", name, err)
	}
	if got, err := c.GetSecret(ctx(t), name, "", nil); err != nil || *got.Value != "v1" {
		t.Fatalf("%s: get: %v", name, err)
	}
	if _, err := c.UpdateSecretProperties(ctx(t), name, set.ID.Version(), azsecrets.UpdateSecretPropertiesParameters{ContentType: ptr("ct")}, nil); err != nil {
		t.Fatalf("%s: update: %v", name, err)
	}
	n := 0
	for pager := c.NewListSecretPropertiesVersionsPager(name, nil); pager.More(); {
		page, err := pager.NextPage(ctx(t))
		if err != nil {
			t.Fatalf("%s: list versions: %v", name, err)
		}
		n += len(page.Value)
	}
	if n != 1 {
		t.Errorf("%s: %d versions", name, n)
	}
	b, err := c.BackupSecret(ctx(t), name, nil)
	if err != nil {
		t.Fatalf("%s: backup: %v", name, err)
	}
	if _, err := c.DeleteSecret(ctx(t), name, nil); err != nil {
		t.Fatalf("%s: delete: %v", name, err)
	}
	if _, err := c.RecoverDeletedSecret(ctx(t), name, nil); err != nil {
		t.Fatalf("%s: recover: %v", name, err)
	}
	c.DeleteSecret(ctx(t), name, nil)
	if _, err := c.PurgeDeletedSecret(ctx(t), name, nil); err != nil {
		t.Fatalf("%s: purge: %v", name, err)
	}
	r, err := c.RestoreSecret(ctx(t), azsecrets.RestoreSecretParameters{SecretBackup: b.Value}, nil)
	if err != nil || *r.ID != *set.ID {
		t.Fatalf("%s: restore: %v", name, err)
	}
}

func deletedListed(t *testing.T, c *azsecrets.Client, name string) bool {
	t.Helper()
	for pager := c.NewListDeletedSecretPropertiesPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Value {
			if d.ID.Name() == name {
				return true
			}
		}
	}
	return false
}

package cli

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/client"
)

func TestStoreFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cfg")
	s := store{dir: dir}
	if err := s.write(credentialsFile, secretCredential{ClientID: "app", Secret: "s3cret"}); err != nil {
		t.Fatal(err)
	}
	cache := &fileTokenCache{s: s}
	cache.Put("k", client.Token{Value: "tok", ExpiresOn: time.Unix(1900000000, 0)})
	for _, p := range []string{dir, s.path(credentialsFile), s.path(tokensFile)} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if st.IsDir() {
			want = 0o700
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("%s has mode %v, want %v", p, got, want)
		}
	}
	if got, ok := cache.Get("k"); !ok || got.Value != "tok" || !got.ExpiresOn.Equal(time.Unix(1900000000, 0)) {
		t.Errorf("token cache round trip = %v, %v", got, ok)
	}
	if _, ok := cache.Get("other"); ok {
		t.Error("cache returned a token for an unknown key")
	}
	var cred secretCredential
	if err := s.read(credentialsFile, &cred); err != nil || cred.Secret != "s3cret" {
		t.Errorf("credential round trip = %+v, %v", cred, err)
	}
}

func TestLoadProfileNotSignedIn(t *testing.T) {
	_, err := store{dir: t.TempDir()}.loadProfile()
	if err == nil || err.Error() != "Please run 'keystage login' to setup account." {
		t.Errorf("got %v, want the az message to log in", err)
	}
}

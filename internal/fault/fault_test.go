package fault

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestAsAndIs(t *testing.T) {
	cause := errors.New("disk on fire")
	e := New(NotFound, "SecretNotFound", "A secret with (name/id) %s was not found in this key vault.", "db").Wrap(cause)
	wrapped := fmt.Errorf("keyvault: get: %w", e)
	got, ok := As(wrapped)
	if !ok || got.Code != "SecretNotFound" || got.Kind.Status() != http.StatusNotFound {
		t.Fatalf("As = %+v, %v", got, ok)
	}
	if !errors.Is(wrapped, cause) {
		t.Error("cause not reachable through Unwrap")
	}
	if !Is(wrapped, NotFound) || Is(wrapped, Conflict) {
		t.Error("Is misclassified")
	}
	internal, ok := As(errors.New("boom"))
	if ok || internal.Kind != Internal || internal.Kind.Status() != 500 || internal.Message == "boom" {
		t.Errorf("As(unclassified) = %+v, %v; must hide the cause", internal, ok)
	}
	if e.WithInner("X").Inner != "X" || e.Inner != "" {
		t.Error("WithInner must copy")
	}
}

package task

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolve(t *testing.T) {
	tests := []struct {
		name string
		def  *Definition
		step map[string]string
		want Inputs
	}{
		{"defaults fill unset inputs", copyFilesDef, map[string]string{"targetFolder": " out "},
			Inputs{"SourceFolder": "", "Contents": "**", "TargetFolder": "out", "CleanTargetFolder": "false", "OverWrite": "false", "flattenFolders": "false", "preserveTimestamp": "false", "retryCount": "0", "delayBetweenRetries": "1000", "ignoreMakeDirErrors": "false"}},
		{"aliases map to canonical names", publishBuildArtifactsDef, map[string]string{"publishLocation": "FilePath", "pathtopublish": "x"},
			Inputs{"PathtoPublish": "x", "ArtifactName": "drop", "ArtifactType": "FilePath", "MaxArtifactSize": "0", "TargetPath": "", "Parallel": "false", "ParallelCount": "8", "StoreAsTar": "false"}},
		{"unknown inputs pass through", checkoutDef, map[string]string{"checkout": "self", "Extra": "1"},
			Inputs{"repository": "self", "clean": "", "fetchDepth": "", "fetchFilter": "", "fetchTags": "", "lfs": "", "submodules": "", "path": "", "persistCredentials": "", "workspaceRepo": "", "sparseCheckoutDirectories": "", "sparseCheckoutPatterns": "", "Extra": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.def.Resolve(tt.step)); diff != "" {
				t.Errorf("Resolve mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInputHelpers(t *testing.T) {
	in := Inputs{"flag": "TRUE", "no": "yes", "Lines": "a\r\n\nb\n"}
	if !in.Bool("FLAG") || in.Bool("no") || in.Bool("missing") {
		t.Error("Bool: only a case-insensitive 'true' is true")
	}
	if _, err := in.Required("missing"); err == nil || err.Error() != "Input required: missing" {
		t.Errorf("Required error = %v", err)
	}
	if got := in.Lines("lines"); !cmp.Equal(got, []string{"a", "b"}) {
		t.Errorf("Lines = %q", got)
	}
	if _, err := in.Path("flag", true, true); err == nil || err.Error() != "Not found flag: TRUE" {
		t.Errorf("Path check error = %v", err)
	}
}

func TestBuiltinsAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, tk := range Builtins() {
		d := tk.Definition()
		if seen[d.Ref()] {
			t.Errorf("%s listed twice", d.Ref())
		}
		seen[d.Ref()] = true
		for _, in := range d.Inputs {
			if c, ok := d.Canonical(in.Name); !ok || c != in.Name {
				t.Errorf("%s input %s does not resolve to itself", d.Ref(), in.Name)
			}
		}
	}
}

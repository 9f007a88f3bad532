package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func mustDecode(t *testing.T, s string) any {
	t.Helper()
	v, err := decodeJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRender(t *testing.T) {
	groups := `[{"id":"/subscriptions/s/resourceGroups/rg1","location":"westus","name":"rg1","properties":{"provisioningState":"Succeeded"},"tags":{"a":"b"},"type":"Microsoft.Resources/resourceGroups","managedBy":null},
	            {"id":"/subscriptions/s/resourceGroups/rg2","location":"eastus","name":"rg2","properties":{"provisioningState":"Deleting"},"type":"Microsoft.Resources/resourceGroups","enabled":true}]`
	tests := []struct {
		name, in, format, query string
		table                   tableFunc
		want                    string
	}{
		{"json sorts keys and indents by two", `{"b":1,"a":{"d":[1,2],"c":"x<y"}}`, "json", "", nil,
			"{\n  \"a\": {\n    \"c\": \"x<y\",\n    \"d\": [\n      1,\n      2\n    ]\n  },\n  \"b\": 1\n}\n"},
		{"json keeps non-ASCII", `{"name":"café"}`, "json", "", nil, "{\n  \"name\": \"café\"\n}\n"},
		{"json of a query result", groups, "json", "[].name", nil, "[\n  \"rg1\",\n  \"rg2\"\n]\n"},
		{"tsv of a scalar query", groups, "tsv", "[0].name", nil, "rg1\n"},
		{"tsv of a list of scalars", groups, "tsv", "[].location", nil, "westus\neastus\n"},
		{"tsv of objects: sorted values, lists as length, objects empty, null as None", `[{"b":[1,2],"a":"x","c":{"k":1},"d":null,"e":true,"f":1.5}]`, "tsv", "", nil,
			"x\t2\t\tNone\tTrue\t1.5\n"},
		{"tsv of a bare boolean", `true`, "tsv", "", nil, "true\n"},
		{"tsv of null", `null`, "tsv", "", nil, "None\n"},
		{"table: scalar columns sorted, id/type/etag and nested skipped", groups, "table", "", nil,
			"Location  Name  Enabled\n" +
				"--------  ----  -------\n" +
				"westus    rg1\n" +
				"eastus    rg2   True\n"},
		{"table with a command's shape", groups, "table", "", groupTable,
			"Name  Location  Status\n" +
				"----  --------  ---------\n" +
				"rg1   westus    Succeeded\n" +
				"rg2   eastus    Deleting\n"},
		{"table of a query keeps the query's order", groups, "table", "[].{Z:name, A:location}", groupTable,
			"A       Z\n------  ---\nwestus  rg1\neastus  rg2\n"},
		{"table of a scalar", `"hello"`, "table", "", nil, "Result\n------\nhello\n"},
		{"table of an empty list", `[]`, "table", "", nil, ""},
		{"yaml", `{"b":[1,2],"a":"x"}`, "yaml", "", nil, "a: x\nb:\n- 1\n- 2\n"},
		{"none prints nothing", groups, "none", "", nil, ""},
		{"nil result prints nothing", `null`, "json", "", nil, ""},
		{"query with no match prints nothing", groups, "json", "[0].nothing", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := render(&buf, mustDecode(t, tt.in), tt.format, tt.query, tt.table); err != nil {
				t.Fatalf("render: %v", err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("got:\n%q\nwant:\n%q", got, tt.want)
			}
		})
	}
}

func TestRenderJSONC(t *testing.T) {
	var buf bytes.Buffer
	if err := render(&buf, mustDecode(t, `{"a":"s","n":-1.5,"t":true,"z":null}`), "jsonc", "", nil); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	for _, want := range []string{colorKey + `"a"` + colorReset, colorString + `"s"` + colorReset, colorNumber + "-1.5" + colorReset, colorLit + "true" + colorReset, colorLit + "null" + colorReset} {
		if !strings.Contains(got, want) {
			t.Errorf("jsonc output %q lacks %q", got, want)
		}
	}
	plain := strings.NewReplacer(colorKey, "", colorString, "", colorNumber, "", colorLit, "", colorReset, "").Replace(got)
	want, _ := formatJSON(mustDecode(t, `{"a":"s","n":-1.5,"t":true,"z":null}`))
	if plain != string(want) {
		t.Errorf("jsonc without colours = %q, want the json output %q", plain, want)
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name, format, query string
		wantCode            int
	}{
		{"bad query", "json", "[?", exitUsage},
		{"bad format", "xml", "", exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := render(&bytes.Buffer{}, map[string]any{"a": 1.0}, tt.format, tt.query, nil)
			var ce *cliError
			if !errors.As(err, &ce) || ce.ExitCode() != tt.wantCode {
				t.Fatalf("got %v, want a cliError with exit code %d", err, tt.wantCode)
			}
		})
	}
}

func BenchmarkRenderTable(b *testing.B) {
	var items []string
	for i := 0; i < 200; i++ {
		items = append(items, `{"name":"rg","location":"westus","properties":{"provisioningState":"Succeeded"},"id":"/x"}`)
	}
	v, _ := decodeJSON([]byte("[" + strings.Join(items, ",") + "]"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := render(&bytes.Buffer{}, v, "table", "", nil); err != nil {
			b.Fatal(err)
		}
	}
}

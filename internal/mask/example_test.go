package mask_test

import (
	"fmt"
	"os"

	"github.com/keystage/keystage/internal/mask"
)

func Example() {
	m, _ := mask.New(mask.Config{})
	m.Add("hunter2-hunter2")

	w := m.NewWriter(os.Stdout)
	fmt.Fprintln(w, "password is hunter2-hunter2")
	fmt.Fprintln(w, `json: {"pw":"hunter2-hunter2"} base64: aHVudGVyMi1odW50ZXIy`)
	fmt.Fprintln(w, "clone https://build:token123@git.example.com/repo")
	w.Close()

	for _, warn := range m.Add("abc") {
		fmt.Println("warning:", warn)
	}
	// Output:
	// password is ***
	// json: {"pw":"***"} base64: ***
	// clone https://build:***@git.example.com/repo
	// warning: A secret of 3 characters is registered; every occurrence of that text in logs will be masked. Secrets shorter than 6 characters mask unrelated output.
}

package loadgen

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable prints results as an aligned table, one row per level.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tconnections\trequests\terrors\treq/s\tp50\tp99\tmax\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%s\t%s\t%s\t\n", r.Op, r.Connections, r.Requests, r.Errors,
			r.PerSecond, ms(r.P50), ms(r.P99), ms(r.Max))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if r.Errors == 0 {
			continue
		}
		var parts []string
		for s, n := range r.Statuses {
			parts = append(parts, fmt.Sprintf("%d×%d", n, s))
		}
		sort.Strings(parts)
		fmt.Fprintf(w, "%s at %d connections: errors by status %s; first: %s\n", r.Op, r.Connections, strings.Join(parts, ", "), r.FirstError)
	}
	return nil
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

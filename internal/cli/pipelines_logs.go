package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keystage/keystage/internal/client"
)

// followPoll is how long `runs logs --follow` waits between reads of a run's timeline
// while nothing new was printed.
const followPoll = 250 * time.Millisecond

func (a *app) runsLogs() *cobra.Command {
	var r runRef
	var logID int
	var follow bool
	return a.command(leaf{
		use:   "logs",
		short: "Print a pipeline run's logs, or follow them live",
		long: `Print the logs of a run's jobs, in the order of its timeline (each job's log holds its
steps' output; secrets are masked as ***). With --follow, print lines as the agent writes
them and return when the run completes; a run waiting for a permission is reported.
--log-id prints one log (a job's or a step's, as listed in the run's timeline).`,
		example: `  keystage pipelines runs logs --id 12 --follow`,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			d, org, project, err := a.resolveRun(r, "id")
			if err != nil {
				return nil, err
			}
			f := &logFollower{a: a, d: d, org: org, project: project, id: r.id, w: a.env.Stdout,
				printed: map[int]int{}, done: map[int]bool{}, warned: map[string]bool{}}
			if logID > 0 {
				_, err := f.copy(ctx, logID, follow)
				return nil, err
			}
			return nil, f.run(ctx, follow)
		},
	}, func(f *pflag.FlagSet) {
		r.flags("id")(f)
		f.IntVar(&logID, "log-id", 0, "Print only this log")
		f.BoolVarP(&follow, "follow", "f", false, "Follow the logs until the run completes")
	})
}

// logFollower prints a run's job logs, remembering how many lines of each it printed so
// that a dropped stream resumes where it stopped.
type logFollower struct {
	a            *app
	d            client.DevOps
	org, project string
	id           int
	w            io.Writer
	printed      map[int]int
	done         map[int]bool
	warned       map[string]bool
	headers      bool
}

func (f *logFollower) run(ctx context.Context, follow bool) error {
	for {
		finished, err := runCompleted(ctx, f.d, f.org, f.project, f.id)
		if err != nil {
			return err
		}
		records, err := timeline(ctx, f.d, f.org, f.project, f.id)
		if err != nil {
			return err
		}
		if follow && !finished {
			var fresh []timelineRecord
			for _, cp := range waitingCheckpoints(records) {
				if !f.warned[cp.ID] {
					f.warned[cp.ID] = true
					fresh = append(fresh, cp)
				}
			}
			f.a.warnCheckpoints(ctx, f.d, f.org, f.project, f.id, fresh)
		}
		jobs := 0
		for _, r := range records {
			if r.Type == "Job" {
				jobs++
			}
		}
		f.headers = f.headers || jobs > 1
		progressed, pending := false, false
		for _, r := range records {
			if r.Type != "Job" || r.Log == nil || f.done[r.Log.ID] {
				continue
			}
			complete := finished || r.State == "completed"
			if f.printed[r.Log.ID] == 0 && f.headers {
				fmt.Fprintf(f.w, "==> %s (log %d) <==\n", r.Name, r.Log.ID)
			}
			n, err := f.copy(ctx, r.Log.ID, follow && !complete)
			if err != nil {
				return err
			}
			progressed = progressed || n > 0
			if complete {
				f.done[r.Log.ID] = true
			} else {
				pending = true
			}
		}
		if !follow || finished && !pending {
			return nil
		}
		if !progressed {
			t := time.NewTimer(followPoll)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	}
}

// copy prints the lines of a log after those already printed; with follow it streams
// until the server ends the answer (the log is complete, or the connection dropped). It
// returns the number of lines printed. Only whole lines are printed: a line cut by a
// dropped stream is read again.
func (f *logFollower) copy(ctx context.Context, logID int, follow bool) (int, error) {
	body, err := f.d.BuildLog(ctx, f.org, f.project, f.id, logID, f.printed[logID]+1, follow)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	br := bufio.NewReaderSize(body, 64<<10)
	n := 0
	for {
		line, err := br.ReadString('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			if _, werr := io.WriteString(f.w, line); werr != nil {
				return n, werr
			}
			n++
			f.printed[logID]++
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			if follow && !errors.Is(err, context.Canceled) {
				return n, nil // a dropped stream: the caller reads again from the next line
			}
			return n, err
		}
	}
}

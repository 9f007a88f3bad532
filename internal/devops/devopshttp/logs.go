package devopshttp

import (
	"archive/zip"
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/orchestrator"
)

// buildLogJSON is the Build API's BuildLog.
type buildLogJSON struct {
	ID            int       `json:"id"`
	Type          string    `json:"type"`
	URL           string    `json:"url"`
	LineCount     int       `json:"lineCount"`
	CreatedOn     time.Time `json:"createdOn"`
	LastChangedOn time.Time `json:"lastChangedOn"`
}

// pipelineLogJSON is the Pipelines API's Log.
type pipelineLogJSON struct {
	ID            int            `json:"id"`
	CreatedOn     time.Time      `json:"createdOn"`
	LastChangedOn time.Time      `json:"lastChangedOn"`
	LineCount     int            `json:"lineCount"`
	URL           string         `json:"url"`
	SignedContent *signedURLJSON `json:"signedContent,omitempty"`
}

// signedURLJSON is a SignedUrl. Keystage does not sign URLs: the URL is the Build API's,
// which needs the caller's credentials, and signatureExpires is when the answer was made.
type signedURLJSON struct {
	URL              string    `json:"url"`
	SignatureExpires time.Time `json:"signatureExpires"`
}

// accepts reports whether the Accept header (or $format) asks for kind: "zip", "text",
// "json". JSON is the default.
func accepts(rq *Request, kind string) bool {
	if f := strings.ToLower(rq.Query("$format")); f != "" {
		return f == kind
	}
	acc := strings.ToLower(rq.R.Header.Get("Accept"))
	switch kind {
	case "zip":
		return strings.Contains(acc, "application/zip")
	case "text":
		return strings.Contains(acc, "text/plain") && !strings.Contains(acc, "application/json")
	case "octet":
		return strings.Contains(acc, "application/octet-stream")
	}
	return false
}

// badLogID answers a log id that is not a positive integer.
func badLogID(v string) error {
	return devops.BadRequest("The log id %q is not a positive integer.", clip(v))
}

// lineRange reads startLine and endLine (1-based, inclusive; absent or 0 means the first
// or last line).
func lineRange(rq *Request) (int, int, error) {
	var r [2]int
	for i, name := range []string{"startLine", "endLine"} {
		if s := rq.Query(name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 || n > 1<<31 {
				return 0, 0, devops.BadRequest("%s must be a non-negative line number.", name)
			}
			r[i] = int(n)
		}
	}
	return r[0], r[1], nil
}

func (a *runsAPI) getBuildLogs(rq *Request) error {
	p, id, err := a.build(rq)
	if err != nil {
		return err
	}
	ctx := rq.R.Context()
	if _, ok := rq.Value("logId"); !ok {
		if accepts(rq, "zip") {
			return a.writeLogsZip(rq, p, id)
		}
		logs, err := a.runs.Logs(ctx, p, id)
		if err != nil {
			return err
		}
		out := make([]buildLogJSON, 0, len(logs))
		for _, l := range logs {
			out = append(out, buildLogJSON{ID: l.ID, Type: "Container", URL: logURL(rq, id, l.ID), LineCount: l.LineCount,
				CreatedOn: l.Created, LastChangedOn: l.LastChanged})
		}
		return rq.OK(newCollection(out))
	}
	logID, err := rq.IntValue("logId", badLogID)
	if err != nil {
		return err
	}
	start, end, err := lineRange(rq)
	if err != nil {
		return err
	}
	follow, err := rq.QueryBool("follow")
	if err != nil {
		return err
	}
	switch {
	case follow:
		return a.followLog(rq, p, id, logID, start)
	case accepts(rq, "zip"):
		if _, err := a.runs.Log(ctx, p, id, logID); err != nil {
			return err
		}
		rq.W.Header().Set("Content-Type", "application/zip")
		zw := zip.NewWriter(rq.W)
		fw, err := zw.Create(fmt.Sprintf("%d.txt", logID))
		if err != nil {
			return err
		}
		if err := a.runs.ReadLog(ctx, p, id, logID, start, end, writeLines(fw)); err != nil {
			return err
		}
		return zw.Close()
	case accepts(rq, "text"):
		lines, err := a.runs.LogLines(ctx, p, id, logID, start, end)
		if err != nil {
			return err
		}
		var b strings.Builder
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
		rq.W.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rq.W.Header().Set("Content-Length", strconv.Itoa(b.Len()))
		_, err = rq.W.Write([]byte(b.String()))
		return err
	}
	lines, err := a.runs.LogLines(ctx, p, id, logID, start, end)
	if err != nil {
		return err
	}
	return rq.OK(newCollection(lines))
}

func writeLines(w interface{ Write([]byte) (int, error) }) func([]string) error {
	return func(lines []string) error {
		for _, l := range lines {
			if _, err := w.Write([]byte(l + "\n")); err != nil {
				return err
			}
		}
		return nil
	}
}

// followLog streams a log as text while it is written (Keystage's follow mode, for the
// CLI): the answer is chunked and ends when the log is complete.
func (a *runsAPI) followLog(rq *Request, p orchestrator.Project, id int64, logID, from int) error {
	ctx := rq.R.Context()
	if _, err := a.runs.Log(ctx, p, id, logID); err != nil {
		return err
	}
	rq.W.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rq.W.Header().Set("X-Content-Type-Options", "nosniff")
	rq.W.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(rq.W)
	flusher, _ := rq.W.(http.Flusher)
	err := a.runs.FollowLog(ctx, p, id, logID, from, func(lines []string) error {
		if err := writeLines(bw)(lines); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	})
	_ = bw.Flush()
	if err != nil {
		// The status is sent: the stream just ends; the client sees a short read.
		a.h.log.Debug("log follow ended", "err", err)
	}
	return nil
}

// writeLogsZip answers every log of a run as one zip, a file per log.
func (a *runsAPI) writeLogsZip(rq *Request, p orchestrator.Project, id int64) error {
	ctx := rq.R.Context()
	logs, err := a.runs.Logs(ctx, p, id)
	if err != nil {
		return err
	}
	tl, err := a.runs.Timeline(ctx, p, id)
	if err != nil {
		return err
	}
	names := map[int]string{}
	for _, r := range tl.Records {
		if r.LogID != 0 {
			names[r.LogID] = r.Name
		}
	}
	rq.W.Header().Set("Content-Type", "application/zip")
	zw := zip.NewWriter(rq.W)
	for _, l := range logs {
		fw, err := zw.Create(fmt.Sprintf("%d_%s.txt", l.ID, safeName(names[l.ID])))
		if err != nil {
			return err
		}
		if err := a.runs.ReadLog(ctx, p, id, l.ID, 0, 0, writeLines(fw)); err != nil {
			return err
		}
	}
	return zw.Close()
}

// safeName keeps letters, digits, spaces, dots, dashes and underscores of a record name.
func safeName(s string) string {
	b := []rune{}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune(" ._-", r):
			b = append(b, r)
		default:
			b = append(b, '_')
		}
	}
	if len(b) == 0 {
		return "log"
	}
	return string(b)
}

// getRunLogs answers the Pipelines API's logs: a LogCollection, or one Log.
func (a *runsAPI) getRunLogs(rq *Request) error {
	p, err := a.project(rq)
	if err != nil {
		return err
	}
	ctx := rq.R.Context()
	r, err := a.runOfPipeline(ctx, rq, p)
	if err != nil {
		return err
	}
	signed := strings.EqualFold(rq.Query("$expand"), "signedContent")
	render := func(l orchestrator.LogInfo) pipelineLogJSON {
		u := rq.URL(rq.Project.ID, "_apis", "pipelines", strconv.Itoa(r.Pipeline.ID), "runs", strconv.FormatInt(r.ID, 10), "logs", strconv.Itoa(l.ID))
		j := pipelineLogJSON{ID: l.ID, CreatedOn: l.Created, LastChangedOn: l.LastChanged, LineCount: l.LineCount, URL: u}
		if signed {
			j.SignedContent = &signedURLJSON{URL: logURL(rq, r.ID, l.ID), SignatureExpires: time.Now().UTC()}
		}
		return j
	}
	if _, ok := rq.Value("logId"); ok {
		logID, err := rq.IntValue("logId", badLogID)
		if err != nil {
			return err
		}
		l, err := a.runs.Log(ctx, p, r.ID, logID)
		if err != nil {
			return err
		}
		return rq.OK(render(l))
	}
	logs, err := a.runs.Logs(ctx, p, r.ID)
	if err != nil {
		return err
	}
	out := struct {
		Logs          []pipelineLogJSON `json:"logs"`
		SignedContent *signedURLJSON    `json:"signedContent,omitempty"`
		URL           string            `json:"url"`
	}{Logs: []pipelineLogJSON{}, URL: rq.URL(rq.Project.ID, "_apis", "pipelines", strconv.Itoa(r.Pipeline.ID), "runs", strconv.FormatInt(r.ID, 10), "logs")}
	for _, l := range logs {
		out.Logs = append(out.Logs, render(l))
	}
	return rq.OK(out)
}

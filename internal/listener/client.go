package listener

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/orchestrator/agentproto"
)

// client speaks the agent protocol to one organization. It holds no job state.
type client struct {
	http   *http.Client
	org    string // organization URL without a trailing slash
	pat    string // for pool lookup and registration
	token  string // the agent credential, after registration
	poolID int
	agent  string // user agent
}

// apiError is a non-2xx answer.
type apiError struct {
	Status  int
	TypeKey string
	Message string
}

func (e *apiError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("the server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("the server answered %d: %s", e.Status, e.Message)
}

// retryable reports whether a failed call may succeed if repeated: the server was
// unreachable, restarting or busy. A local file's failure is not the server's: repeating
// cannot mend it.
func retryable(err error) bool {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status >= 500 || ae.Status == http.StatusConflict && ae.TypeKey == "TransactionConflictException" || ae.Status == http.StatusTooManyRequests
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return false
	}
	return err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// gone reports whether the server no longer knows the thing a call was about (a job, a
// session).
func gone(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusGone)
}

// do sends one request. body is JSON-encoded unless it is an io.Reader; out, when set,
// receives the JSON answer. A 204 leaves out untouched and returns ok=false.
func (c *client) do(ctx context.Context, method, path string, query url.Values, body, out any) (ok bool, err error) {
	u := c.org + "/" + strings.TrimPrefix(path, "/")
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd, ctype = b, "application/octet-stream"
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return false, fmt.Errorf("listener: encode %s: %w", path, err)
		}
		rd, ctype = bytes.NewReader(buf), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return false, fmt.Errorf("listener: %w", err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-TFS-FedAuthRedirect", "Suppress")
	req.Header.Set("User-Agent", c.agent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	} else {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(":"+c.pat)))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		ae := &apiError{Status: resp.StatusCode}
		var we agentproto.Error
		if json.Unmarshal(b, &we) == nil {
			ae.Message, ae.TypeKey = we.Message, we.TypeKey
		}
		return false, ae
	}
	if resp.StatusCode == http.StatusNoContent {
		return false, nil
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return true, nil
	}
	if w, isWriter := out.(io.Writer); isWriter {
		_, err := io.Copy(w, resp.Body)
		return true, err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return false, fmt.Errorf("listener: decode the answer to %s %s: %w", method, path, err)
	}
	return true, nil
}

// retry runs fn until it succeeds, fails for good, or ctx ends, backing off from 100 ms to
// max between attempts of a retryable failure.
func retry(ctx context.Context, max time.Duration, fn func() error) error {
	wait := 100 * time.Millisecond
	for {
		err := fn()
		if err == nil || !retryable(err) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(ctx.Err(), err)
		case <-t.C:
		}
		wait = min(wait*2, max)
	}
}

// poolByName looks up a pool id with the personal access token; found is false when the
// organization has no pool of that name.
func (c *client) poolByName(ctx context.Context, name string) (id int, found bool, err error) {
	var out struct {
		Value []struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
		} `json:"value"`
	}
	if _, err := c.do(ctx, http.MethodGet, "_apis/distributedtask/pools", url.Values{"poolName": {name}, "api-version": {"7.1"}}, nil, &out); err != nil {
		return 0, false, err
	}
	for _, p := range out.Value {
		if strings.EqualFold(p.Name, name) {
			return p.ID, true, nil
		}
	}
	return 0, false, nil
}

func (c *client) poolPath(parts ...string) string {
	return "_apis/distributedtask/pools/" + strconv.Itoa(c.poolID) + "/" + strings.Join(parts, "/")
}

// jobPath is the path of a job's protocol calls.
func jobPath(m *agentproto.JobMessage, parts ...string) string {
	p := url.PathEscape(m.ProjectID) + "/_apis/distributedtask/hubs/" + agentproto.HubName + "/plans/" +
		url.PathEscape(m.PlanID) + "/jobs/" + url.PathEscape(m.JobID)
	if len(parts) > 0 {
		p += "/" + strings.Join(parts, "/")
	}
	return p
}

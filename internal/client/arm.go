package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ARM calls the ARM-shaped management API. Paths are resource ids or collection paths such
// as /subscriptions/{id}/resourcegroups/{name}, optionally with a query ($filter); the
// api-version is added. Results are the server's JSON, unchanged.
type ARM struct{ c *Client }

// ARM returns the management API client.
func (c *Client) ARM() ARM { return ARM{c} }

// Get returns the resource at path.
func (a ARM) Get(ctx context.Context, path, apiVersion string) (json.RawMessage, error) {
	return a.Do(ctx, http.MethodGet, path, apiVersion, nil)
}

// Put creates or replaces the resource at path and waits for the operation to finish.
func (a ARM) Put(ctx context.Context, path, apiVersion string, body any) (json.RawMessage, error) {
	return a.Do(ctx, http.MethodPut, path, apiVersion, body)
}

// Delete deletes the resource at path and waits for the operation to finish. Deleting a
// resource that does not exist is not an error when the server answers 204.
func (a ARM) Delete(ctx context.Context, path, apiVersion string) error {
	_, err := a.Do(ctx, http.MethodDelete, path, apiVersion, nil)
	return err
}

// Do sends one management request and, when the server answers with a long-running
// operation (Azure-AsyncOperation or Location header, or a PUT whose provisioningState is
// not terminal), polls it to the end. It returns the final resource body (nil for 204 and
// for finished deletes).
func (a ARM) Do(ctx context.Context, method, path, apiVersion string, body any) (json.RawMessage, error) {
	u, err := withAPIVersion(a.c.base, path, apiVersion)
	if err != nil {
		return nil, err
	}
	resp, err := a.send(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	return a.finish(ctx, method, u, resp)
}

// send sends one authenticated request; an answer of 300 or more is a *ResponseError.
func (a ARM) send(ctx context.Context, method, u string, body any) (*response, error) {
	tok, err := a.c.cfg.Credential.Token(ctx, a.c.cfg.ARMResource)
	if err != nil {
		return nil, err
	}
	resp, err := a.c.send(ctx, request{method: method, url: u, body: body, token: tok.Value})
	if err != nil {
		return nil, err
	}
	if resp.status >= 300 {
		return nil, newResponseError(method, u, resp)
	}
	return resp, nil
}

// Start sends one management request without waiting for a long-running operation (az's
// --no-wait) and returns the immediate response body.
func (a ARM) Start(ctx context.Context, method, path, apiVersion string, body any) (json.RawMessage, error) {
	u, err := withAPIVersion(a.c.base, path, apiVersion)
	if err != nil {
		return nil, err
	}
	resp, err := a.send(ctx, method, u, body)
	if err != nil || len(resp.body) == 0 {
		return nil, err
	}
	return json.RawMessage(resp.body), nil
}

// terminal reports whether a provisioning or operation status is final.
func terminal(state string) bool {
	switch strings.ToLower(state) {
	case "", "succeeded", "failed", "canceled", "cancelled":
		return true
	}
	return false
}

func (a ARM) finish(ctx context.Context, method, u string, resp *response) (json.RawMessage, error) {
	async := resp.header.Get("Azure-AsyncOperation")
	location := resp.header.Get("Location")
	switch {
	case async != "" && (resp.status == http.StatusCreated || resp.status == http.StatusAccepted || resp.status == http.StatusOK):
		if err := a.pollStatus(ctx, async, resp.header); err != nil {
			return nil, err
		}
		switch method {
		case http.MethodDelete:
			return nil, nil
		case http.MethodPost:
			if location != "" {
				return a.getFinal(ctx, location)
			}
			return nil, nil
		}
		return a.getFinal(ctx, u)
	case location != "" && resp.status == http.StatusAccepted:
		return a.pollLocation(ctx, location, resp.header)
	case resp.status == http.StatusNoContent:
		return nil, nil
	}
	if (method == http.MethodPut || method == http.MethodPatch) && len(resp.body) > 0 {
		if state := provisioningState(resp.body); !terminal(state) {
			return a.pollResource(ctx, u, resp.header)
		}
	}
	if len(resp.body) == 0 {
		return nil, nil
	}
	return json.RawMessage(resp.body), nil
}

func provisioningState(body []byte) string {
	var r struct {
		Properties struct {
			ProvisioningState string `json:"provisioningState"`
		} `json:"properties"`
	}
	_ = json.Unmarshal(body, &r)
	return r.Properties.ProvisioningState
}

func (a ARM) wait(ctx context.Context, h http.Header) error {
	d := a.c.cfg.PollInterval
	if s := h.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			d = min(time.Duration(n)*time.Second, 30*time.Second)
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pollStatus polls an Azure-AsyncOperation URL until its status is terminal.
func (a ARM) pollStatus(ctx context.Context, opURL string, h http.Header) error {
	for {
		if err := a.wait(ctx, h); err != nil {
			return err
		}
		resp, err := a.authedGet(ctx, opURL)
		if err != nil {
			return err
		}
		if resp.status >= 300 {
			return newResponseError(http.MethodGet, opURL, resp)
		}
		var op struct {
			Status string `json:"status"`
			Error  *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(resp.body, &op); err != nil {
			return fmt.Errorf("client: operation status: %w", err)
		}
		if terminal(op.Status) && op.Status != "" {
			if !strings.EqualFold(op.Status, "Succeeded") {
				re := &ResponseError{StatusCode: http.StatusOK, Code: op.Status, Message: "the operation " + strings.ToLower(op.Status), Method: http.MethodGet, URL: redactURL(opURL), Body: resp.body}
				if op.Error != nil {
					re.Code, re.Message = op.Error.Code, op.Error.Message
				}
				return re
			}
			return nil
		}
		h = resp.header
	}
}

// pollLocation polls a Location URL until it stops answering 202; the last answer is the
// operation's result.
func (a ARM) pollLocation(ctx context.Context, loc string, h http.Header) (json.RawMessage, error) {
	for {
		if err := a.wait(ctx, h); err != nil {
			return nil, err
		}
		resp, err := a.authedGet(ctx, loc)
		if err != nil {
			return nil, err
		}
		switch {
		case resp.status == http.StatusAccepted:
			h = resp.header
			continue
		case resp.status >= 300:
			return nil, newResponseError(http.MethodGet, loc, resp)
		case resp.status == http.StatusNoContent || len(resp.body) == 0:
			return nil, nil
		}
		return json.RawMessage(resp.body), nil
	}
}

// pollResource GETs u until its provisioningState is terminal.
func (a ARM) pollResource(ctx context.Context, u string, h http.Header) (json.RawMessage, error) {
	for {
		if err := a.wait(ctx, h); err != nil {
			return nil, err
		}
		resp, err := a.authedGet(ctx, u)
		if err != nil {
			return nil, err
		}
		if resp.status >= 300 {
			return nil, newResponseError(http.MethodGet, u, resp)
		}
		state := provisioningState(resp.body)
		if terminal(state) {
			if state != "" && !strings.EqualFold(state, "Succeeded") {
				return nil, &ResponseError{StatusCode: resp.status, Code: "Provisioning" + state, Message: "provisioning ended in state " + state, Method: http.MethodGet, URL: redactURL(u), Body: resp.body}
			}
			return json.RawMessage(resp.body), nil
		}
		h = resp.header
	}
}

func (a ARM) getFinal(ctx context.Context, u string) (json.RawMessage, error) {
	resp, err := a.authedGet(ctx, u)
	if err != nil {
		return nil, err
	}
	return result(http.MethodGet, u, resp)
}

func (a ARM) authedGet(ctx context.Context, u string) (*response, error) {
	if err := checkHost(u, a.c.base.Host); err != nil {
		return nil, err
	}
	tok, err := a.c.cfg.Credential.Token(ctx, a.c.cfg.ARMResource)
	if err != nil {
		return nil, err
	}
	return a.c.send(ctx, request{method: http.MethodGet, url: u, token: tok.Value})
}

// List returns every element of the collection at path, following nextLink.
func (a ARM) List(ctx context.Context, path, apiVersion string) ([]json.RawMessage, error) {
	u, err := withAPIVersion(a.c.base, path, apiVersion)
	if err != nil {
		return nil, err
	}
	return collect(u, func(u string) ([]byte, error) {
		resp, err := a.authedGet(ctx, u)
		if err != nil {
			return nil, err
		}
		if resp.status >= 300 {
			return nil, newResponseError(http.MethodGet, u, resp)
		}
		return resp.body, nil
	})
}

package devopshttp

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/orchestrator"
)

// The distributed task area: agent pools, the agents in them and projects' queues. Agents
// register through the run orchestrator's agent protocol (devops.Service.RegisterAgent);
// here they are listed, shown and removed.
func (h *Handler) poolsArea() Area {
	r := func(loc, method string, access Access, fn func(*Request) error) Route {
		return Route{Location: loc, Method: method, Access: access, Scope: "agentpools", Handle: fn}
	}
	return Area{Name: "distributedtask", Routes: []Route{
		r(LocPools, http.MethodGet, AccessRead, h.getPools),
		r(LocPools, http.MethodPost, AccessManage, h.addPool),
		r(LocPools, http.MethodDelete, AccessManage, h.deletePool),
		r(LocAgents, http.MethodGet, AccessRead, h.getAgents),
		r(LocAgents, http.MethodDelete, AccessManage, h.deleteAgent),
		r(LocQueues, http.MethodGet, AccessRead, h.getQueues),
	}}
}

type poolJSON struct {
	ID            int           `json:"id"`
	Name          string        `json:"name"`
	IsHosted      bool          `json:"isHosted"`
	IsLegacy      bool          `json:"isLegacy"`
	PoolType      string        `json:"poolType"`
	Size          int           `json:"size"`
	Scope         string        `json:"scope"`
	Options       string        `json:"options"`
	AutoProvision bool          `json:"autoProvision"`
	AutoUpdate    bool          `json:"autoUpdate"`
	AutoSize      bool          `json:"autoSize"`
	CreatedBy     *identityJSON `json:"createdBy,omitempty"`
	CreatedOn     time.Time     `json:"createdOn"`
	Owner         *identityJSON `json:"owner,omitempty"`
	Properties    struct{}      `json:"properties"`
}

type poolRefJSON struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	IsHosted bool   `json:"isHosted"`
	PoolType string `json:"poolType"`
	Size     int    `json:"size"`
	Scope    string `json:"scope"`
}

func (rq *Request) pool(p devops.Pool) poolJSON {
	return poolJSON{
		ID: p.ID, Name: p.Name, IsHosted: p.IsHosted, PoolType: "automation", Size: p.Size, Scope: rq.Org.ID,
		Options: "none", AutoProvision: p.AutoProvision, AutoUpdate: true, AutoSize: true,
		CreatedBy: identityRef(p.CreatedBy), CreatedOn: p.Created, Owner: identityRef(p.CreatedBy),
	}
}

func poolNotFound(v string) error {
	return fault.New(fault.NotFound, devops.CodePoolNotFound, "Agent pool %s could not be found.", clip(v))
}

func (h *Handler) getPools(rq *Request) error {
	ctx := rq.R.Context()
	if _, ok := rq.Value("poolId"); ok {
		id, err := rq.IntValue("poolId", poolNotFound)
		if err != nil {
			return err
		}
		p, err := h.svc.Pool(ctx, rq.Org, id)
		if err != nil {
			return err
		}
		return rq.OK(rq.pool(p))
	}
	pools, err := h.svc.Pools(ctx, rq.Org)
	if err != nil {
		return err
	}
	switch t := strings.ToLower(rq.Query("poolType")); t {
	case "", "automation":
	case "deployment":
		pools = nil // Keystage has no deployment pools
	default:
		return devops.BadRequest("poolType %q is invalid; use automation or deployment.", clip(rq.Query("poolType")))
	}
	var ids []int
	for _, s := range rq.QueryList("poolIds") {
		n, err := strconv.Atoi(s)
		if err != nil {
			return devops.BadRequest("poolIds must be integers.")
		}
		ids = append(ids, n)
	}
	name := rq.Query("poolName")
	out := []poolJSON{}
	for _, p := range pools {
		if name != "" && !globMatch(name, p.Name) || len(ids) > 0 && !slices.Contains(ids, p.ID) {
			continue
		}
		out = append(out, rq.pool(p))
	}
	return rq.OK(newCollection(out))
}

func (h *Handler) addPool(rq *Request) error {
	if _, ok := rq.Value("poolId"); ok {
		return &methodError{method: rq.R.Method, allowed: []string{"GET", "DELETE"}}
	}
	var b struct {
		Name          string `json:"name"`
		AutoProvision *bool  `json:"autoProvision"`
		PoolType      string `json:"poolType"`
		IsHosted      bool   `json:"isHosted"`
	}
	if err := rq.Decode(&b); err != nil {
		return err
	}
	if b.PoolType != "" && !strings.EqualFold(b.PoolType, "automation") {
		return devops.NotImplemented("Deployment pools are not supported.")
	}
	if b.IsHosted {
		return devops.BadRequest("Pools added here are self-hosted; vmImage names map to the hosted pool by server configuration.")
	}
	auto := b.AutoProvision == nil || *b.AutoProvision
	p, err := h.svc.AddPool(rq.R.Context(), rq.Org, rq.Caller.Identity(), devops.NewPool{Name: b.Name, AutoProvision: auto})
	if err != nil {
		return err
	}
	return rq.OK(rq.pool(p))
}

func (h *Handler) deletePool(rq *Request) error {
	if _, ok := rq.Value("poolId"); !ok {
		return &methodError{method: rq.R.Method, allowed: []string{"GET", "POST"}}
	}
	id, err := rq.IntValue("poolId", poolNotFound)
	if err != nil {
		return err
	}
	if err := h.svc.DeletePool(rq.R.Context(), rq.Org, id); err != nil {
		return err
	}
	return rq.NoContent()
}

type agentJSON struct {
	ID                 int               `json:"id"`
	Name               string            `json:"name"`
	Version            string            `json:"version"`
	OSDescription      string            `json:"osDescription"`
	Enabled            bool              `json:"enabled"`
	Status             string            `json:"status"`
	ProvisioningState  string            `json:"provisioningState"`
	MaxParallelism     int               `json:"maxParallelism"`
	CreatedOn          time.Time         `json:"createdOn"`
	StatusChangedOn    time.Time         `json:"statusChangedOn"`
	SystemCapabilities map[string]string `json:"systemCapabilities,omitempty"`
	UserCapabilities   map[string]string `json:"userCapabilities,omitempty"`
	Links              map[string]link   `json:"_links"`
}

func (rq *Request) agent(a devops.Agent, capabilities bool) agentJSON {
	self := rq.URL("_apis", "distributedtask", "pools", strconv.Itoa(a.PoolID), "agents", strconv.Itoa(a.ID))
	out := agentJSON{
		ID: a.ID, Name: a.Name, Version: a.Version, OSDescription: a.OSDescription, Enabled: a.Enabled, Status: a.Status,
		ProvisioningState: "Provisioned", MaxParallelism: a.MaxParallelism, CreatedOn: a.CreatedOn, StatusChangedOn: a.StatusChangedOn,
		Links: map[string]link{"self": {Href: self}},
	}
	if capabilities {
		out.SystemCapabilities, out.UserCapabilities = nonNilMap(a.SystemCapabilities), nonNilMap(a.UserCapabilities)
	}
	return out
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func agentNotFound(v string) error {
	return fault.New(fault.NotFound, devops.CodeAgentNotFound, "Agent %s could not be found in the pool.", clip(v))
}

func (h *Handler) getAgents(rq *Request) error {
	ctx := rq.R.Context()
	poolID, err := rq.IntValue("poolId", poolNotFound)
	if err != nil {
		return err
	}
	caps, err := rq.QueryBool("includeCapabilities")
	if err != nil {
		return err
	}
	for _, name := range []string{"includeAssignedRequest", "includeLastCompletedRequest"} {
		if on, err := rq.QueryBool(name); err != nil {
			return err
		} else if on {
			return devops.NotImplemented("%s is not supported yet: job requests belong to the run orchestrator.", name)
		}
	}
	if _, ok := rq.Value("agentId"); ok {
		id, err := rq.IntValue("agentId", agentNotFound)
		if err != nil {
			return err
		}
		a, err := h.svc.Agent(ctx, rq.Org, poolID, id)
		if err != nil {
			return err
		}
		return rq.OK(rq.agent(a, caps))
	}
	agents, err := h.svc.Agents(ctx, rq.Org, poolID)
	if err != nil {
		return err
	}
	demands, err := orchestrator.ParseDemands(rq.QueryList("demands"))
	if err != nil {
		return devops.BadRequest("%s", err.Error())
	}
	name := rq.Query("agentName")
	out := []agentJSON{}
	for _, a := range agents {
		if name != "" && !strings.EqualFold(name, a.Name) {
			continue
		}
		if ok, _ := orchestrator.Satisfied(demands, orchestrator.MergeCapabilities(a.SystemCapabilities, a.UserCapabilities)); !ok {
			continue
		}
		out = append(out, rq.agent(a, caps))
	}
	return rq.OK(newCollection(out))
}

func (h *Handler) deleteAgent(rq *Request) error {
	poolID, err := rq.IntValue("poolId", poolNotFound)
	if err != nil {
		return err
	}
	if _, ok := rq.Value("agentId"); !ok {
		return &methodError{method: rq.R.Method, allowed: []string{"GET"}}
	}
	id, err := rq.IntValue("agentId", agentNotFound)
	if err != nil {
		return err
	}
	if err := h.svc.DeleteAgent(rq.R.Context(), rq.Org, poolID, id); err != nil {
		return err
	}
	return rq.NoContent()
}

type agentQueueJSON struct {
	ID        int          `json:"id"`
	Name      string       `json:"name"`
	ProjectID string       `json:"projectId"`
	Pool      *poolRefJSON `json:"pool"`
}

// agentQueue renders q with a reference to its pool.
func (rq *Request) agentQueue(q devops.Queue) *agentQueueJSON {
	return &agentQueueJSON{ID: q.ID, Name: q.Name, ProjectID: q.ProjectID, Pool: rq.poolRef(q.PoolID)}
}

// queueRef renders queue id of project, read once per request; nil when it cannot be read.
func (rq *Request) queueRef(projectID string, id int) *agentQueueJSON {
	key := projectID + "/" + strconv.Itoa(id)
	if q, ok := rq.queueRefs[key]; ok {
		return q
	}
	var out *agentQueueJSON
	if q, err := rq.h.svc.Queue(rq.R.Context(), rq.Org, projectID, id); err == nil {
		out = rq.agentQueue(q)
	}
	if rq.queueRefs == nil {
		rq.queueRefs = map[string]*agentQueueJSON{}
	}
	rq.queueRefs[key] = out
	return out
}

// poolRef renders pool id, read once per request; nil when it cannot be read.
func (rq *Request) poolRef(id int) *poolRefJSON {
	if p, ok := rq.poolRefs[id]; ok {
		return p
	}
	var out *poolRefJSON
	if p, err := rq.h.svc.Pool(rq.R.Context(), rq.Org, id); err == nil {
		out = &poolRefJSON{ID: p.ID, Name: p.Name, IsHosted: p.IsHosted, PoolType: "automation", Size: p.Size, Scope: rq.Org.ID}
	}
	if rq.poolRefs == nil {
		rq.poolRefs = map[int]*poolRefJSON{}
	}
	rq.poolRefs[id] = out
	return out
}

func queueNotFound(v string) error {
	return fault.New(fault.NotFound, devops.CodeQueueNotFound, "Agent queue %s could not be found.", clip(v))
}

// getQueues lists or shows queues; without a project in the path it covers every project
// of the organization.
func (h *Handler) getQueues(rq *Request) error {
	ctx := rq.R.Context()
	var projects []devops.Project
	if rq.HasProject {
		projects = []devops.Project{rq.Project}
	} else {
		var err error
		if projects, err = h.svc.Projects(ctx, rq.Org, false); err != nil {
			return err
		}
	}
	if _, ok := rq.Value("queueId"); ok {
		id, err := rq.IntValue("queueId", queueNotFound)
		if err != nil {
			return err
		}
		for _, p := range projects {
			if q, err := h.svc.Queue(ctx, rq.Org, p.ID, id); err == nil {
				return rq.OK(rq.agentQueue(q))
			}
		}
		return queueNotFound(strconv.Itoa(id))
	}
	names := rq.QueryList("queueNames")
	if n := rq.Query("queueName"); n != "" {
		names = append(names, n)
	}
	var ids, poolIDs []int
	for _, list := range []struct {
		name string
		into *[]int
	}{{"queueIds", &ids}, {"poolIds", &poolIDs}} {
		for _, s := range rq.QueryList(list.name) {
			n, err := strconv.Atoi(s)
			if err != nil {
				return devops.BadRequest("%s must be integers.", list.name)
			}
			*list.into = append(*list.into, n)
		}
	}
	out := []*agentQueueJSON{}
	for _, p := range projects {
		qs, err := h.svc.Queues(ctx, rq.Org, p.ID)
		if err != nil {
			return err
		}
		for _, q := range qs {
			if len(names) > 0 && !slices.ContainsFunc(names, func(n string) bool { return globMatch(n, q.Name) }) ||
				len(ids) > 0 && !slices.Contains(ids, q.ID) || len(poolIDs) > 0 && !slices.Contains(poolIDs, q.PoolID) {
				continue
			}
			out = append(out, rq.agentQueue(q))
		}
	}
	return rq.OK(newCollection(out))
}

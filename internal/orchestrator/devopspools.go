package orchestrator

import (
	"context"
	"errors"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/orchestrator/agentproto"
)

// DevOpsPools is Pools over the DevOps domain's pools, queues and agents.
type DevOpsPools struct {
	Svc *devops.Service
}

var _ Pools = DevOpsPools{}

func orgOf(orgID, orgName string) devops.Organization {
	return devops.Organization{ID: orgID, Name: orgName}
}

// poolNotAuthorized is Azure's message for a pool a project cannot use.
func poolNotAuthorized(name string) error {
	return fault.New(fault.BadRequest, CodePipelineInvalid,
		"Could not find a pool with name %s. The pool does not exist or has not been authorized for use. For authorization details, refer to https://aka.ms/yamlauthz.", clip(name))
}

// ResolvePool implements Pools: a queue id, else the project's queue of the named pool,
// else of the pool the vmImage maps to, else of the hosted pool.
func (d DevOpsPools) ResolvePool(ctx context.Context, p Project, ref PoolRef) (QueueRef, error) {
	org := orgOf(p.OrgID, p.OrgName)
	var q devops.Queue
	var err error
	switch {
	case ref.QueueID != 0:
		if q, err = d.Svc.Queue(ctx, org, p.ID, ref.QueueID); err != nil {
			if errors.Is(err, devops.ErrNotFound) {
				return QueueRef{}, fault.New(fault.BadRequest, CodePipelineInvalid,
					"The agent queue %d of this pipeline does not exist in project %s.", ref.QueueID, p.Name)
			}
			return QueueRef{}, err
		}
	default:
		name := ref.Name
		if name == "" {
			pool, err := d.Svc.PoolForVMImage(ctx, org, ref.VMImage)
			if err != nil {
				return QueueRef{}, err
			}
			name = pool.Name
		}
		if q, err = d.Svc.QueueByName(ctx, org, p.ID, name); err != nil {
			if errors.Is(err, devops.ErrNotFound) {
				return QueueRef{}, poolNotAuthorized(name)
			}
			return QueueRef{}, err
		}
	}
	pool, err := d.Svc.Pool(ctx, org, q.PoolID)
	if err != nil {
		return QueueRef{}, err
	}
	return QueueRef{ID: q.ID, Name: q.Name, PoolID: pool.ID, PoolName: pool.Name}, nil
}

func agentInfo(a devops.Agent, poolName string) AgentInfo {
	return AgentInfo{ID: a.ID, PoolID: a.PoolID, PoolName: poolName, Name: a.Name, Enabled: a.Enabled,
		Capabilities: MergeCapabilities(a.SystemCapabilities, a.UserCapabilities)}
}

// Agents implements Pools.
func (d DevOpsPools) Agents(ctx context.Context, orgID string, poolID int) ([]AgentInfo, error) {
	agents, err := d.Svc.Agents(ctx, orgOf(orgID, ""), poolID)
	if err != nil {
		return nil, err
	}
	out := make([]AgentInfo, 0, len(agents))
	for _, a := range agents {
		out = append(out, agentInfo(a, ""))
	}
	return out, nil
}

// Agent implements Pools.
func (d DevOpsPools) Agent(ctx context.Context, orgID string, poolID, agentID int) (AgentInfo, error) {
	a, err := d.Svc.Agent(ctx, orgOf(orgID, ""), poolID, agentID)
	if err != nil {
		return AgentInfo{}, err
	}
	return agentInfo(a, ""), nil
}

// RegisterAgent implements Pools; a registration always replaces an agent of the same name
// (a restarted agent process takes its place back).
func (d DevOpsPools) RegisterAgent(ctx context.Context, orgID string, poolID int, reg agentproto.Registration) (AgentInfo, error) {
	org := orgOf(orgID, "")
	pool, err := d.Svc.Pool(ctx, org, poolID)
	if err != nil {
		return AgentInfo{}, err
	}
	a, err := d.Svc.RegisterAgent(ctx, org, poolID, devops.AgentRegistration{
		Name: reg.Name, Version: reg.Version, OSDescription: reg.OSDescription, MaxParallelism: 1,
		SystemCapabilities: reg.SystemCapabilities, UserCapabilities: reg.UserCapabilities, Replace: true,
	})
	if err != nil {
		return AgentInfo{}, err
	}
	return agentInfo(a, pool.Name), nil
}

// SetAgentStatus implements Pools.
func (d DevOpsPools) SetAgentStatus(ctx context.Context, orgID string, poolID, agentID int, online bool) error {
	_, err := d.Svc.SetAgentStatus(ctx, orgOf(orgID, ""), poolID, agentID, online)
	return err
}

package devops

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

// Agent statuses.
const (
	AgentOnline  = "online"
	AgentOffline = "offline"
)

// Agent is an agent registered in a pool. The run orchestrator's agent protocol registers
// agents and reports their status; this package only keeps the records.
type Agent struct {
	ID                 int               `json:"id"`
	PoolID             int               `json:"poolId"`
	Name               string            `json:"name"`
	Version            string            `json:"version"`
	OSDescription      string            `json:"osDescription,omitempty"`
	Enabled            bool              `json:"enabled"`
	Status             string            `json:"status"`
	MaxParallelism     int               `json:"maxParallelism"`
	SystemCapabilities map[string]string `json:"systemCapabilities,omitempty"`
	UserCapabilities   map[string]string `json:"userCapabilities,omitempty"`
	CreatedOn          time.Time         `json:"createdOn"`
	StatusChangedOn    time.Time         `json:"statusChangedOn"`
}

// AgentRegistration is what RegisterAgent needs.
type AgentRegistration struct {
	Name               string
	Version            string
	OSDescription      string
	MaxParallelism     int // 1 when zero
	SystemCapabilities map[string]string
	UserCapabilities   map[string]string
	// Replace lets a registration take over an existing agent of the same name (the
	// agent's --replace), keeping its id.
	Replace bool
}

// RegisterAgent adds an agent to pool (offline until SetAgentStatus reports it online).
// An agent of the same name (case-insensitively) is a conflict unless r.Replace is set.
func (s *Service) RegisterAgent(ctx context.Context, org Organization, poolID int, r AgentRegistration) (Agent, error) {
	if err := checkAgentName(r.Name); err != nil {
		return Agent{}, err
	}
	if r.MaxParallelism < 0 || r.MaxParallelism > 1024 {
		return Agent{}, BadRequest("maxParallelism must be between 1 and 1024.")
	}
	if r.MaxParallelism == 0 {
		r.MaxParallelism = 1
	}
	now := s.now().UTC()
	var a Agent
	err := s.st.Update(ctx, func(tx storage.Store) error {
		if ok, err := exists(ctx, tx, poolKey(org.ID, poolID)); err != nil {
			return err
		} else if !ok {
			return poolNotFound(fmt.Sprint(poolID))
		}
		a = Agent{
			PoolID: poolID, Name: r.Name, Version: r.Version, OSDescription: r.OSDescription,
			Enabled: true, Status: AgentOffline, MaxParallelism: r.MaxParallelism,
			SystemCapabilities: maps.Clone(r.SystemCapabilities), UserCapabilities: maps.Clone(r.UserCapabilities),
			CreatedOn: now, StatusChangedOn: now,
		}
		idKey, err := getString(ctx, tx, agentNameKey(org.ID, poolID, r.Name))
		switch {
		case err == nil:
			if !r.Replace {
				return fault.New(fault.Conflict, CodeAgentExists, "An agent named %s already exists in the pool; register it with replace to take it over.", r.Name)
			}
			var old Agent
			if err := storage.GetJSON(ctx, tx, agentsPrefix(org.ID, poolID)+idKey, &old); err != nil {
				return err
			}
			a.ID, a.CreatedOn, a.Enabled = old.ID, old.CreatedOn, old.Enabled
			if err := tx.Delete(ctx, agentNameKey(org.ID, poolID, old.Name)); err != nil {
				return err
			}
		case errors.Is(err, storage.ErrNotFound):
			if a.ID, err = nextID(ctx, tx, org.ID, "agent"); err != nil {
				return err
			}
		default:
			return err
		}
		if err := storage.PutJSON(ctx, tx, agentKey(org.ID, poolID, a.ID), a); err != nil {
			return err
		}
		return tx.Put(ctx, agentNameKey(org.ID, poolID, a.Name), []byte(intKey(a.ID)))
	})
	if err != nil {
		return Agent{}, storageError("register agent", err)
	}
	return a, nil
}

// Agent returns the agent with id in pool.
func (s *Service) Agent(ctx context.Context, org Organization, poolID, id int) (Agent, error) {
	var a Agent
	err := storage.GetJSON(ctx, s.st, agentKey(org.ID, poolID, id), &a)
	if errors.Is(err, storage.ErrNotFound) {
		return Agent{}, agentNotFound(fmt.Sprint(id))
	}
	if err != nil {
		return Agent{}, storageError("get agent", err)
	}
	return a, nil
}

// Agents lists a pool's agents by id.
func (s *Service) Agents(ctx context.Context, org Organization, poolID int) ([]Agent, error) {
	if ok, err := exists(ctx, s.st, poolKey(org.ID, poolID)); err != nil {
		return nil, storageError("list agents", err)
	} else if !ok {
		return nil, poolNotFound(fmt.Sprint(poolID))
	}
	agents, err := storage.ListJSON[Agent](ctx, s.st, agentsPrefix(org.ID, poolID), "", 0)
	if err != nil {
		return nil, storageError("list agents", err)
	}
	return agents, nil
}

// AgentUpdate changes the fields that are set.
type AgentUpdate struct {
	Enabled            *bool
	Version            *string
	OSDescription      *string
	SystemCapabilities map[string]string // replaces when non-nil
	UserCapabilities   map[string]string // replaces when non-nil
}

// UpdateAgent changes an agent's properties.
func (s *Service) UpdateAgent(ctx context.Context, org Organization, poolID, id int, u AgentUpdate) (Agent, error) {
	return s.changeAgent(ctx, org, poolID, id, func(a *Agent) bool {
		if u.Enabled != nil {
			a.Enabled = *u.Enabled
		}
		if u.Version != nil {
			a.Version = *u.Version
		}
		if u.OSDescription != nil {
			a.OSDescription = *u.OSDescription
		}
		if u.SystemCapabilities != nil {
			a.SystemCapabilities = maps.Clone(u.SystemCapabilities)
		}
		if u.UserCapabilities != nil {
			a.UserCapabilities = maps.Clone(u.UserCapabilities)
		}
		return true
	})
}

// SetAgentStatus records an agent going online or offline. It writes only when the
// status changes, so callers may report it on every heartbeat.
func (s *Service) SetAgentStatus(ctx context.Context, org Organization, poolID, id int, online bool) (Agent, error) {
	status := AgentOffline
	if online {
		status = AgentOnline
	}
	return s.changeAgent(ctx, org, poolID, id, func(a *Agent) bool {
		if a.Status == status {
			return false
		}
		a.Status, a.StatusChangedOn = status, s.now().UTC()
		return true
	})
}

func (s *Service) changeAgent(ctx context.Context, org Organization, poolID, id int, change func(*Agent) bool) (Agent, error) {
	cur, err := s.Agent(ctx, org, poolID, id)
	if err != nil {
		return Agent{}, err
	}
	if !change(&cur) {
		return cur, nil
	}
	var a Agent
	err = s.st.Update(ctx, func(tx storage.Store) error {
		if err := storage.GetJSON(ctx, tx, agentKey(org.ID, poolID, id), &a); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return agentNotFound(fmt.Sprint(id))
			}
			return err
		}
		if !change(&a) {
			return nil
		}
		return storage.PutJSON(ctx, tx, agentKey(org.ID, poolID, id), a)
	})
	if err != nil {
		return Agent{}, storageError("update agent", err)
	}
	return a, nil
}

// DeleteAgent removes an agent from its pool.
func (s *Service) DeleteAgent(ctx context.Context, org Organization, poolID, id int) error {
	err := s.st.Update(ctx, func(tx storage.Store) error {
		var a Agent
		if err := storage.GetJSON(ctx, tx, agentKey(org.ID, poolID, id), &a); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return agentNotFound(fmt.Sprint(id))
			}
			return err
		}
		if err := tx.Delete(ctx, agentNameKey(org.ID, poolID, a.Name)); err != nil {
			return err
		}
		return tx.Delete(ctx, agentKey(org.ID, poolID, id))
	})
	if err != nil {
		return storageError("delete agent", err)
	}
	return nil
}

func agentNotFound(idOrName string) error {
	return notFound(CodeAgentNotFound, "Agent %s could not be found in the pool.", clip(idOrName))
}

func checkAgentName(name string) error {
	if name == "" || len(name) > 64 || strings.TrimSpace(name) != name ||
		strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f || strings.ContainsRune(`/\"<>|:*?`, r) }) {
		return BadRequest("The agent name %q is invalid: use 1 to 64 characters without control characters or any of / \\ \" < > | : * ?.", clip(name))
	}
	return nil
}

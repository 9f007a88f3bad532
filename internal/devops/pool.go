package devops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

// Pool is an organization's agent pool.
type Pool struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	// IsHosted marks the pool vmImage names map to by default. Keystage runs those jobs
	// on its own agents registered in the pool.
	IsHosted bool `json:"isHosted"`
	// AutoProvision gives every project (existing and new) a queue for the pool.
	AutoProvision bool        `json:"autoProvision"`
	CreatedBy     IdentityRef `json:"createdBy"`
	Created       time.Time   `json:"created"`
	// Size is the number of agents registered in the pool (computed when read).
	Size int `json:"-"`
}

// NewPool is what AddPool needs.
type NewPool struct {
	Name          string
	AutoProvision bool
}

// Queue is a project's view of a pool; pipelines and permissions name queues.
type Queue struct {
	ID        int    `json:"id"`
	ProjectID string `json:"projectId"`
	Name      string `json:"name"`
	PoolID    int    `json:"poolId"`
}

// AddPool adds a pool; with AutoProvision, every project gets a queue for it.
func (s *Service) AddPool(ctx context.Context, org Organization, by IdentityRef, n NewPool) (Pool, error) {
	if err := checkPoolName(n.Name); err != nil {
		return Pool{}, err
	}
	var pool Pool
	err := s.st.Update(ctx, func(tx storage.Store) error {
		if _, err := s.organization(ctx, tx, org.ID); err != nil {
			return err
		}
		var err error
		if pool, err = s.addPool(ctx, tx, org, by, n, false); err != nil {
			return err
		}
		if !n.AutoProvision {
			return nil
		}
		projects, err := storage.ListJSON[Project](ctx, tx, OrgPrefix(org.ID)+"project/", "", 0)
		if err != nil {
			return err
		}
		for _, p := range projects {
			if p.State == ProjectDeleting {
				continue
			}
			if _, err := s.addQueue(ctx, tx, org.ID, p.ID, pool); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Pool{}, storageError("add pool", err)
	}
	return pool, nil
}

func (s *Service) addPool(ctx context.Context, tx storage.Store, org Organization, by IdentityRef, n NewPool, hosted bool) (Pool, error) {
	if ok, err := exists(ctx, tx, poolNameKey(org.ID, n.Name)); err != nil {
		return Pool{}, err
	} else if ok {
		return Pool{}, fault.New(fault.Conflict, CodePoolExists, "Agent pool %s already exists.", n.Name)
	}
	id, err := nextID(ctx, tx, org.ID, "pool")
	if err != nil {
		return Pool{}, err
	}
	pool := Pool{ID: id, Name: n.Name, IsHosted: hosted, AutoProvision: n.AutoProvision, CreatedBy: by, Created: s.now().UTC()}
	if err := storage.PutJSON(ctx, tx, poolKey(org.ID, id), pool); err != nil {
		return Pool{}, err
	}
	return pool, tx.Put(ctx, poolNameKey(org.ID, n.Name), []byte(intKey(id)))
}

// addQueue gives project a queue for pool, named like the pool; a project that already
// has a queue of that name keeps it.
func (s *Service) addQueue(ctx context.Context, tx storage.Store, orgID, projectID string, pool Pool) (Queue, error) {
	if ok, err := exists(ctx, tx, queueNameKey(orgID, projectID, pool.Name)); err != nil || ok {
		return Queue{}, err
	}
	id, err := nextID(ctx, tx, orgID, "queue")
	if err != nil {
		return Queue{}, err
	}
	q := Queue{ID: id, ProjectID: projectID, Name: pool.Name, PoolID: pool.ID}
	if err := storage.PutJSON(ctx, tx, queueKey(orgID, projectID, id), q); err != nil {
		return Queue{}, err
	}
	return q, tx.Put(ctx, queueNameKey(orgID, projectID, q.Name), []byte(intKey(id)))
}

// Pool returns the pool with id.
func (s *Service) Pool(ctx context.Context, org Organization, id int) (Pool, error) {
	var pool Pool
	err := storage.GetJSON(ctx, s.st, poolKey(org.ID, id), &pool)
	if errors.Is(err, storage.ErrNotFound) {
		return Pool{}, poolNotFound(fmt.Sprint(id))
	}
	if err != nil {
		return Pool{}, storageError("get pool", err)
	}
	return s.withSize(ctx, org, pool)
}

// PoolByName returns the pool named name (case-insensitively).
func (s *Service) PoolByName(ctx context.Context, org Organization, name string) (Pool, error) {
	if checkPoolName(name) != nil {
		return Pool{}, poolNotFound(name)
	}
	idKey, err := getString(ctx, s.st, poolNameKey(org.ID, name))
	if errors.Is(err, storage.ErrNotFound) {
		return Pool{}, poolNotFound(name)
	}
	if err != nil {
		return Pool{}, storageError("get pool", err)
	}
	var pool Pool
	if err := storage.GetJSON(ctx, s.st, OrgPrefix(org.ID)+"pool/"+idKey, &pool); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return Pool{}, poolNotFound(name)
		}
		return Pool{}, storageError("get pool", err)
	}
	return s.withSize(ctx, org, pool)
}

// Pools lists the organization's pools by id.
func (s *Service) Pools(ctx context.Context, org Organization) ([]Pool, error) {
	pools, err := storage.ListJSON[Pool](ctx, s.st, OrgPrefix(org.ID)+"pool/", "", 0)
	if err != nil {
		return nil, storageError("list pools", err)
	}
	for i := range pools {
		if pools[i], err = s.withSize(ctx, org, pools[i]); err != nil {
			return nil, err
		}
	}
	return pools, nil
}

func (s *Service) withSize(ctx context.Context, org Organization, pool Pool) (Pool, error) {
	agents, err := s.st.List(ctx, agentsPrefix(org.ID, pool.ID), "", 0)
	if err != nil {
		return Pool{}, storageError("count agents", err)
	}
	pool.Size = len(agents)
	return pool, nil
}

// DeletePool deletes a pool, its agents and every project's queue for it. The built-in
// pools cannot be deleted.
func (s *Service) DeletePool(ctx context.Context, org Organization, id int) error {
	pool, err := s.Pool(ctx, org, id)
	if err != nil {
		return err
	}
	if strings.EqualFold(pool.Name, s.cfg.DefaultPoolName) || strings.EqualFold(pool.Name, s.cfg.HostedPoolName) {
		return BadRequest("The agent pool %s is built in and cannot be deleted.", pool.Name)
	}
	err = s.st.Update(ctx, func(tx storage.Store) error {
		projects, err := storage.ListJSON[Project](ctx, tx, OrgPrefix(org.ID)+"project/", "", 0)
		if err != nil {
			return err
		}
		for _, p := range projects {
			queues, err := storage.ListJSON[Queue](ctx, tx, ProjectPrefix(org.ID, p.ID)+"queue/", "", 0)
			if err != nil {
				return err
			}
			for _, q := range queues {
				if q.PoolID != pool.ID {
					continue
				}
				if err := tx.Delete(ctx, queueKey(org.ID, p.ID, q.ID)); err != nil {
					return err
				}
				if err := tx.Delete(ctx, queueNameKey(org.ID, p.ID, q.Name)); err != nil {
					return err
				}
				if err := tx.Delete(ctx, permKey(org.ID, p.ID, ResourceQueue, fmt.Sprint(q.ID))); err != nil {
					return err
				}
			}
		}
		if err := tx.Delete(ctx, poolNameKey(org.ID, pool.Name)); err != nil {
			return err
		}
		return tx.Delete(ctx, poolKey(org.ID, pool.ID))
	})
	if err != nil {
		return storageError("delete pool", err)
	}
	if err := storage.DeletePrefixBatched(ctx, s.st, agentsPrefix(org.ID, pool.ID)); err != nil {
		return storageError("delete pool", err)
	}
	return storage.DeletePrefixBatched(ctx, s.st, OrgPrefix(org.ID)+"agentname/"+intKey(pool.ID)+"/")
}

// Queues lists a project's queues by id.
func (s *Service) Queues(ctx context.Context, org Organization, projectID string) ([]Queue, error) {
	qs, err := storage.ListJSON[Queue](ctx, s.st, ProjectPrefix(org.ID, projectID)+"queue/", "", 0)
	if err != nil {
		return nil, storageError("list queues", err)
	}
	return qs, nil
}

// Queue returns a project's queue with id.
func (s *Service) Queue(ctx context.Context, org Organization, projectID string, id int) (Queue, error) {
	return s.queue(ctx, s.st, org.ID, projectID, id)
}

func (s *Service) queue(ctx context.Context, st storage.Store, orgID, projectID string, id int) (Queue, error) {
	var q Queue
	err := storage.GetJSON(ctx, st, queueKey(orgID, projectID, id), &q)
	if errors.Is(err, storage.ErrNotFound) {
		return Queue{}, queueNotFound(fmt.Sprint(id))
	}
	if err != nil {
		return Queue{}, storageError("get queue", err)
	}
	return q, nil
}

// QueueByName returns a project's queue named name (case-insensitively).
func (s *Service) QueueByName(ctx context.Context, org Organization, projectID, name string) (Queue, error) {
	return s.queueByName(ctx, s.st, org.ID, projectID, name)
}

func (s *Service) queueByName(ctx context.Context, st storage.Store, orgID, projectID, name string) (Queue, error) {
	if checkPoolName(name) != nil {
		return Queue{}, queueNotFound(name)
	}
	idKey, err := getString(ctx, st, queueNameKey(orgID, projectID, name))
	if errors.Is(err, storage.ErrNotFound) {
		return Queue{}, queueNotFound(name)
	}
	if err != nil {
		return Queue{}, storageError("get queue", err)
	}
	var q Queue
	if err := storage.GetJSON(ctx, st, ProjectPrefix(orgID, projectID)+"queue/"+idKey, &q); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return Queue{}, queueNotFound(name)
		}
		return Queue{}, storageError("get queue", err)
	}
	return q, nil
}

// PoolForVMImage returns the pool a job asking for vmImage runs in: the pool the server
// configuration maps the image to, or the hosted pool.
func (s *Service) PoolForVMImage(ctx context.Context, org Organization, vmImage string) (Pool, error) {
	name, ok := s.vmImages[strings.ToLower(vmImage)]
	if !ok {
		name = s.cfg.HostedPoolName
	}
	pool, err := s.PoolByName(ctx, org, name)
	if errors.Is(err, ErrNotFound) {
		return Pool{}, notFound(CodePoolNotFound, "No agent pool serves vmImage %s: the pool %s it maps to does not exist in organization %s.", clip(vmImage), name, org.Name)
	}
	return pool, err
}

// HostedPoolName returns the name of the pool vmImage names map to by default.
func (s *Service) HostedPoolName() string { return s.cfg.HostedPoolName }

func poolNotFound(idOrName string) error {
	return notFound(CodePoolNotFound, "Agent pool %s could not be found.", clip(idOrName))
}

func queueNotFound(idOrName string) error {
	return notFound(CodeQueueNotFound, "Agent queue %s could not be found.", clip(idOrName))
}

// checkPoolName accepts 1–64 printable characters without path or control characters.
func checkPoolName(name string) error {
	if name == "" || len(name) > 64 || strings.TrimSpace(name) != name {
		return BadRequest("The agent pool name %q is invalid: use 1 to 64 characters without leading or trailing spaces.", clip(name))
	}
	if strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f || slices.Contains([]rune(`/\"<>|`), r) }) {
		return BadRequest("The agent pool name %q is invalid: it must not contain control characters or any of / \\ \" < > |.", clip(name))
	}
	return nil
}

package cli

import (
	"context"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// `pipelines pool`, `pipelines agent` and `pipelines queue`, as az pipelines: the
// organization's agent pools, the agents registered in them, and projects' queues.

func poolTable(v any) any {
	return tableColumns(v, []string{"ID", "id"}, []string{"Name", "name"}, []string{"Is Hosted", "isHosted"}, []string{"Pool Type", "poolType"}, []string{"Size", "size"})
}

func agentTable(v any) any {
	return tableColumns(v, []string{"ID", "id"}, []string{"Name", "name"}, []string{"Is Enabled", "enabled"}, []string{"Status", "status"}, []string{"Version", "version"})
}

func queueTable(v any) any {
	return tableColumns(v, []string{"ID", "id"}, []string{"Name", "name"}, []string{"Pool ID", "pool.id"}, []string{"Pool Name", "pool.name"})
}

func (a *app) newPoolCommand() *cobra.Command {
	return group("pool", "List and show agent pools", a.poolList(), a.poolShow())
}

func (a *app) poolList() *cobra.Command {
	var t devopsTarget
	var name string
	return a.command(leaf{
		use:   "list",
		short: "List the organization's agent pools",
		table: poolTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			d, org, err := a.devops(t)
			if err != nil {
				return nil, err
			}
			items, err := d.AgentPools(ctx, org, name)
			if err != nil {
				return nil, err
			}
			return decodeList(items)
		},
	}, func(f *pflag.FlagSet) {
		t.orgFlag(f)
		f.StringVar(&name, "pool-name", "", "Only the pool with this name")
	})
}

func (a *app) poolShow() *cobra.Command {
	var t devopsTarget
	var id int
	return a.command(leaf{
		use:   "show",
		short: "Show an agent pool",
		table: poolTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if err := requireInt("--id/--pool-id", id); err != nil {
				return nil, err
			}
			d, org, err := a.devops(t)
			if err != nil {
				return nil, err
			}
			raw, err := d.AgentPool(ctx, org, id)
			if err != nil {
				return nil, err
			}
			return decodeJSON(raw)
		},
	}, func(f *pflag.FlagSet) {
		t.orgFlag(f)
		f.IntVar(&id, "id", 0, "ID of the agent pool")
		f.IntVar(&id, "pool-id", 0, "ID of the agent pool")
	})
}

func (a *app) newAgentCommand() *cobra.Command {
	return group("agent", "List and show the agents of a pool (run agents with 'keystage agent')", a.agentList(), a.agentShow())
}

func (a *app) agentList() *cobra.Command {
	var t devopsTarget
	var poolID int
	var name string
	return a.command(leaf{
		use:   "list",
		short: "List the agents of a pool, with their capabilities",
		table: agentTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if err := requireInt("--pool-id", poolID); err != nil {
				return nil, err
			}
			d, org, err := a.devops(t)
			if err != nil {
				return nil, err
			}
			items, err := d.Agents(ctx, org, poolID, name)
			if err != nil {
				return nil, err
			}
			return decodeList(items)
		},
	}, func(f *pflag.FlagSet) {
		t.orgFlag(f)
		f.IntVar(&poolID, "pool-id", 0, "ID of the agent pool")
		f.StringVar(&name, "agent-name", "", "Only the agent with this name")
	})
}

func (a *app) agentShow() *cobra.Command {
	var t devopsTarget
	var poolID, id int
	return a.command(leaf{
		use:   "show",
		short: "Show an agent, with its capabilities",
		table: agentTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if err := requireInt("--pool-id", poolID); err != nil {
				return nil, err
			}
			if err := requireInt("--id/--agent-id", id); err != nil {
				return nil, err
			}
			d, org, err := a.devops(t)
			if err != nil {
				return nil, err
			}
			raw, err := d.Agent(ctx, org, poolID, id)
			if err != nil {
				return nil, err
			}
			return decodeJSON(raw)
		},
	}, func(f *pflag.FlagSet) {
		t.orgFlag(f)
		f.IntVar(&poolID, "pool-id", 0, "ID of the agent pool")
		f.IntVar(&id, "id", 0, "ID of the agent")
		f.IntVar(&id, "agent-id", 0, "ID of the agent")
	})
}

func (a *app) newQueueCommand() *cobra.Command {
	return group("queue", "List and show a project's agent queues", a.queueList(), a.queueShow())
}

func (a *app) queueList() *cobra.Command {
	var t devopsTarget
	var name string
	return a.command(leaf{
		use:   "list",
		short: "List the project's agent queues",
		table: queueTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			d, org, project, err := a.devopsProject(t)
			if err != nil {
				return nil, err
			}
			items, err := d.AgentQueues(ctx, org, project, name)
			if err != nil {
				return nil, err
			}
			return decodeList(items)
		},
	}, func(f *pflag.FlagSet) {
		t.flags(f)
		f.StringVar(&name, "queue-name", "", "Only the queue with this name")
	})
}

func (a *app) queueShow() *cobra.Command {
	var t devopsTarget
	var id int
	return a.command(leaf{
		use:   "show",
		short: "Show an agent queue",
		table: queueTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if err := requireInt("--id/--queue-id", id); err != nil {
				return nil, err
			}
			d, org, project, err := a.devopsProject(t)
			if err != nil {
				return nil, err
			}
			raw, err := d.AgentQueue(ctx, org, project, id)
			if err != nil {
				return nil, err
			}
			return decodeJSON(raw)
		},
	}, func(f *pflag.FlagSet) {
		t.flags(f)
		f.IntVar(&id, "id", 0, "ID of the agent queue")
		f.IntVar(&id, "queue-id", 0, "ID of the agent queue")
	})
}

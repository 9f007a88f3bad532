package syntax

import (
	"regexp"
	"sync"
)

// The definitions below follow Microsoft's published Azure Pipelines YAML schema
// (service-schema.json: definitions pipeline, stage, job, step, variables, pool, trigger,
// pr, jobStrategy, templateParameter and friends). They are written out by hand because
// the published file is 1.6 MB of JSON Schema whose anyOf variants produce unreadable
// errors; here each variant is chosen by its key and reports Azure-style messages.

// referenceNamePattern is the schema's referenceName: job and step identifiers.
var referenceNamePattern = regexp.MustCompile(`^[-_A-Za-z0-9]*$`)

// taskPattern accepts `Name@2` and `Name@2.1.0` (names may be GUIDs).
var taskPattern = regexp.MustCompile(`^[^@\s]+@[0-9]+(\.[0-9]+){0,2}$`)

var schemaRoots = sync.OnceValue(buildSchema)

func str() *def         { return &def{name: "string", scalar: anyScalar} }
func nonEmptyStr() *def { return &def{name: "string", scalar: nonEmpty} }
func boolean_() *def    { return &def{name: "boolean", scalar: boolean} }
func integer_() *def    { return &def{name: "number", scalar: integer} }
func anyValue() *def    { return &def{name: "any", any: true} }
func enumOf(vals ...string) *def {
	return &def{name: "string", scalar: enum, enum: vals}
}
func seqOf(item *def) *def { return &def{name: "sequence", items: item} }
func unsupported(feature string) *def {
	return &def{name: feature, scalar: anyScalar, extra: anyValue(), items: anyValue(), unsupported: feature}
}

// obj builds a fixed-property mapping definition.
func obj(name string, props map[string]*def, required ...string) *def {
	return &def{name: name, props: props, required: required}
}

// with returns a copy of base's properties plus more.
func with(base map[string]*def, more map[string]*def) map[string]*def {
	out := make(map[string]*def, len(base)+len(more))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

func buildSchema() map[Shape]*def {
	stringList := seqOf(nonEmptyStr())
	stringOrList := &def{name: "string or list", scalar: anyScalar, items: str()}
	refName := &def{name: "name", scalar: pattern, pattern: referenceNamePattern,
		hint: "names may only contain letters, digits, '-' and '_'"}
	mapping := &def{name: "mapping", extra: anyValue()}
	stringMap := &def{name: "mapping", extra: str()}
	templateRef := obj("template reference", map[string]*def{
		"template": nonEmptyStr(), "parameters": mapping}, "template")

	// Variables.
	variable := &def{name: "variable", variants: []variant{
		{"name", obj("variable", map[string]*def{"name": nonEmptyStr(), "value": str(), "readonly": boolean_()}, "name")},
		{"group", obj("variable group", map[string]*def{"group": nonEmptyStr()})},
		{"template", templateRef},
	}}
	variables := &def{name: "variables", extra: str(), items: variable}

	// Pools, filters, triggers.
	pool := &def{name: "pool", scalar: anyScalar, props: map[string]*def{
		"name": nonEmptyStr(), "vmImage": nonEmptyStr(), "demands": stringOrList}, extra: anyValue()}
	includeExclude := obj("filter", map[string]*def{"include": stringList, "exclude": stringList})
	trigger := &def{name: "trigger", scalar: enum, enum: []string{"none"}, items: nonEmptyStr(), noExpr: true,
		props: map[string]*def{"batch": boolean_(), "branches": includeExclude, "paths": includeExclude, "tags": includeExclude}}
	pr := &def{name: "pr", scalar: enum, enum: []string{"none"}, items: nonEmptyStr(), noExpr: true,
		props: map[string]*def{"autoCancel": boolean_(), "branches": includeExclude, "paths": includeExclude, "drafts": boolean_()}}
	schedules := &def{name: "schedules", noExpr: true, items: obj("schedule", map[string]*def{
		"cron": nonEmptyStr(), "displayName": str(), "branches": includeExclude,
		"batch": boolean_(), "always": boolean_()}, "cron")}
	repository := &def{name: "repository", props: map[string]*def{
		"repository": refName, "endpoint": nonEmptyStr(), "trigger": trigger, "name": nonEmptyStr(),
		"ref": str(), "type": enumOf("git", "github", "githubenterprise", "bitbucket"),
		"checkoutOptions": unsupported("resources.repositories checkoutOptions")},
		extra: anyValue(), required: []string{"repository"}}
	resources := &def{name: "resources", noExpr: true, props: map[string]*def{
		"repositories": seqOf(repository),
		"containers":   unsupported("resources.containers (container jobs)"),
		"pipelines":    unsupported("resources.pipelines (pipeline resources)"),
		"builds":       unsupported("resources.builds (build resources)"),
		"packages":     unsupported("resources.packages (package resources)"),
		"webhooks":     unsupported("resources.webhooks (webhook resources)"),
	}, items: unsupported("the legacy list form of resources")}

	// Parameters.
	paramProps := func(types ...string) map[string]*def {
		return map[string]*def{"name": nonEmptyStr(), "displayName": str(), "type": enumOf(types...),
			"default": anyValue(), "values": seqOf(str())}
	}
	templateTypes := []string{"boolean", "container", "containerList", "deployment", "deploymentList",
		"job", "jobList", "legacyObject", "number", "object", "stage", "stageList", "step", "stepList",
		"string", "stringList"}
	pipelineTypes := []string{"boolean", "container", "containerList", "deployment", "deploymentList",
		"environment", "filePath", "job", "jobList", "number", "object", "pool", "secureFile",
		"serviceConnection", "stage", "stageList", "step", "stepList", "string", "stringList"}
	templateParams := &def{name: "parameters", noExpr: true, extra: anyValue(),
		items: obj("parameter", paramProps(templateTypes...), "name")}
	pipelineParams := &def{name: "parameters", noExpr: true,
		items: obj("parameter", paramProps(pipelineTypes...), "name")}

	// Steps.
	target := &def{name: "target", scalar: anyScalar, props: map[string]*def{
		"container": unsupported("step target container"), "commands": enumOf("any", "restricted"),
		"settableVariables": &def{name: "settableVariables", scalar: enum, enum: []string{"none"}, items: nonEmptyStr()}}}
	stepBase := map[string]*def{
		"condition": str(), "continueOnError": boolean_(), "displayName": str(), "target": target,
		"enabled": boolean_(), "env": stringMap, "name": refName, "timeoutInMinutes": integer_(),
		"retryCountOnTaskFailure": integer_(),
	}
	scriptProps := map[string]*def{"failOnStderr": str(), "workingDirectory": str()}
	psProps := with(scriptProps, map[string]*def{"errorActionPreference": str(), "ignoreLASTEXITCODE": str()})
	taskRef := &def{name: "task", scalar: pattern, pattern: taskPattern,
		hint: "a task reference is written Name@MajorVersion, for example CmdLine@2"}
	step := &def{name: "step", variants: []variant{
		{"task", obj("task step", with(stepBase, map[string]*def{"task": taskRef, "inputs": stringMap}))},
		{"script", obj("script step", with(stepBase, with(scriptProps, map[string]*def{"script": str()})))},
		{"bash", obj("bash step", with(stepBase, with(scriptProps, map[string]*def{"bash": str()})))},
		{"pwsh", obj("pwsh step", with(stepBase, with(psProps, map[string]*def{"pwsh": str()})))},
		{"powershell", obj("powershell step", with(stepBase, with(psProps, map[string]*def{"powershell": str()})))},
		{"checkout", obj("checkout step", with(stepBase, map[string]*def{
			"checkout": nonEmptyStr(), "clean": str(), "fetchDepth": str(), "fetchFilter": str(),
			"fetchTags": str(), "lfs": str(), "persistCredentials": str(), "submodules": str(),
			"path": str(), "sparseCheckoutDirectories": str(), "sparseCheckoutPatterns": str(),
			"workspaceRepo": str()}))},
		{"download", obj("download step", with(stepBase, map[string]*def{
			"download": nonEmptyStr(), "artifact": nonEmptyStr(), "patterns": nonEmptyStr()}))},
		{"publish", obj("publish step", with(stepBase, map[string]*def{"publish": str(), "artifact": str()}))},
		{"template", templateRef},
		{"downloadBuild", unsupported("the downloadBuild step")},
		{"getPackage", unsupported("the getPackage step")},
		{"reviewApp", unsupported("the reviewApp step")},
		{"upload", unsupported("the upload step (use publish)")},
	}}
	steps := seqOf(step)

	// Jobs.
	matrix := &def{name: "matrix", scalar: nonEmpty, extra: &def{name: "matrix leg", extra: str()}}
	strategy := obj("strategy", map[string]*def{"matrix": matrix, "maxParallel": integer_(), "parallel": integer_()})
	workspace := obj("workspace", map[string]*def{"clean": enumOf("outputs", "resources", "all")})
	jobProps := map[string]*def{
		"job": refName, "displayName": str(), "dependsOn": stringOrList, "condition": str(),
		"continueOnError": boolean_(), "timeoutInMinutes": integer_(), "cancelTimeoutInMinutes": integer_(),
		"variables": variables, "strategy": strategy, "pool": pool, "workspace": workspace, "steps": steps,
		"templateContext": mapping,
		"container":       unsupported("container jobs (container:)"),
		"services":        unsupported("service containers (services:)"),
		"uses":            unsupported("job uses: (explicit resource references)"),
	}
	job := &def{name: "job", variants: []variant{
		{"job", obj("job", jobProps)},
		{"deployment", unsupported("deployment jobs (deployment:)")},
		{"template", templateRef},
	}}
	jobs := seqOf(job)

	// Stages.
	stage := &def{name: "stage", variants: []variant{
		{"stage", obj("stage", map[string]*def{
			"stage": refName, "displayName": str(), "pool": pool, "dependsOn": stringOrList,
			"condition": str(), "variables": variables, "jobs": jobs, "templateContext": mapping,
			"group":        unsupported("stage group"),
			"lockBehavior": unsupported("lockBehavior (exclusive lock checks)"),
			"trigger":      unsupported("stage trigger (manual stages)"),
			"isSkippable":  unsupported("isSkippable"),
			"checks":       unsupported("stage checks"),
		})},
		{"template", templateRef},
	}}
	stages := seqOf(stage)

	extends := obj("extends", map[string]*def{"template": nonEmptyStr(), "parameters": mapping}, "template")

	root := map[string]*def{
		"name": str(), "appendCommitMessageToRunName": boolean_(), "trigger": trigger,
		"parameters": pipelineParams, "pr": pr, "schedules": schedules, "resources": resources,
		"variables": variables, "pool": pool,
		"lockBehavior": unsupported("lockBehavior (exclusive lock checks)"),
	}
	pipeline := &def{name: "pipeline", variants: []variant{
		{"stages", obj("pipeline", with(root, map[string]*def{"stages": stages}))},
		{"extends", obj("pipeline", with(root, map[string]*def{"extends": extends}))},
		{"jobs", obj("pipeline", with(root, map[string]*def{"jobs": jobs}))},
		{"steps", obj("pipeline", with(root, map[string]*def{
			"steps": steps, "strategy": strategy, "continueOnError": boolean_(),
			"workspace": workspace, "timeoutInMinutes": integer_(),
			"container": jobProps["container"], "services": jobProps["services"]}))},
		{"phases", unsupported("phases (use jobs)")},
	}}

	extendsBase := map[string]*def{"parameters": templateParams, "trigger": trigger,
		"resources": resources, "variables": variables}
	return map[Shape]*def{
		PipelineShape:          pipeline,
		StepsTemplateShape:     obj("steps template", map[string]*def{"parameters": templateParams, "steps": steps}, "steps"),
		JobsTemplateShape:      obj("jobs template", map[string]*def{"parameters": templateParams, "jobs": jobs}, "jobs"),
		StagesTemplateShape:    obj("stages template", map[string]*def{"parameters": templateParams, "stages": stages}, "stages"),
		VariablesTemplateShape: obj("variables template", map[string]*def{"parameters": templateParams, "variables": variables}, "variables"),
		ExtendsTemplateShape: &def{name: "extends template", variants: []variant{
			{"stages", obj("extends template", with(extendsBase, map[string]*def{"stages": stages}))},
			{"jobs", obj("extends template", with(extendsBase, map[string]*def{"jobs": jobs}))},
			{"steps", obj("extends template", with(extendsBase, map[string]*def{"steps": steps}))},
			{"extends", obj("extends template", map[string]*def{"parameters": templateParams,
				"trigger": trigger, "resources": resources, "extends": extends})},
		}},
		StepShape:      step,
		StepListShape:  steps,
		JobShape:       job,
		JobListShape:   jobs,
		StageShape:     stage,
		StageListShape: stages,
	}
}

// Package expr owns Azure Pipelines expressions and the three substitution syntaxes:
// `${{ }}` template expressions, `$[ ]` runtime expressions and `$( )` macros.
//
// An expression is parsed once (Parse, ParseWith) into an immutable *Expr and evaluated
// against a Context holding named values (variables, parameters, dependencies, pipeline,
// ...), a Status for the status functions and a counter hook. Values follow Azure's typing
// and casting rules; ToString prints them as Azure does (True/False, numbers without
// exponent or trailing zeros).
//
// Where the expression may appear decides what it may use, so callers parse with
// TemplateOptions, ConditionOptions or RuntimeVariableOptions. ParseTemplate and
// ParseDirective handle `${{ }}` inside YAML scalars, RuntimeExpression detects `$[ ]`
// values, and ExpandMacros / ExpandVariables implement the agent's `$( )` expansion.
//
// Nothing here does I/O or reads the clock.
package expr

package armhttp

import (
	"slices"
	"strings"

	"github.com/keystage/keystage/internal/arm"
	"github.com/keystage/keystage/internal/fault"
)

// apiFamily is a set of api-versions one resource provider (or resource type) serves.
type apiFamily struct {
	name     string   // for messages, e.g. "Microsoft.KeyVault"
	versions []string // ascending
}

// The api-versions Keystage accepts per family: every version Azure publishes for the
// operations Keystage serves, which covers what the Azure SDK for Go clients (armkeyvault
// v1.5.0: 2024-11-01 and 2015-11-01 for /resources; armmsi v1.3.0: 2024-11-30;
// armauthorization/v2 v2.2.0: 2022-04-01; armsubscriptions v1.3.0: 2022-12-01; armresources
// v1.2.0: 2021-04-01) and recent az CLI releases send. A well-formed version newer than the
// newest listed is accepted too, so that a newer client keeps working (the shapes Keystage
// returns are a subset of newer versions'); an unknown older or in-between version is
// refused as ARM refuses it.
var (
	familyResources = &apiFamily{"Microsoft.Resources", []string{
		"2014-04-01", "2014-04-01-preview", "2015-01-01", "2015-11-01", "2016-02-01", "2016-06-01", "2016-07-01", "2016-09-01",
		"2017-05-10", "2018-02-01", "2018-05-01", "2018-06-01", "2019-03-01", "2019-05-01", "2019-05-10", "2019-06-01",
		"2019-07-01", "2019-08-01", "2019-10-01", "2019-11-01", "2020-01-01", "2020-06-01", "2020-08-01", "2020-10-01",
		"2021-01-01", "2021-04-01", "2022-01-01", "2022-09-01", "2022-12-01", "2023-07-01", "2024-03-01", "2024-07-01",
		"2024-11-01", "2025-03-01", "2025-04-01",
	}}
	familyKeyVault = &apiFamily{"Microsoft.KeyVault", []string{
		"2015-06-01", "2016-10-01", "2018-02-14", "2018-02-14-preview", "2019-09-01", "2020-04-01-preview",
		"2021-04-01-preview", "2021-06-01-preview", "2021-10-01", "2021-11-01-preview", "2022-02-01-preview",
		"2022-07-01", "2022-11-01", "2023-02-01", "2023-07-01", "2023-08-01-preview", "2024-04-01-preview",
		"2024-11-01", "2024-12-01-preview", "2025-05-01",
	}}
	familyManagedIdentity = &apiFamily{"Microsoft.ManagedIdentity", []string{
		"2015-08-31-preview", "2018-11-30", "2021-09-30-preview", "2022-01-31-preview", "2023-01-31",
		"2023-07-31-preview", "2024-11-30", "2025-01-31-preview",
	}}
	familyRoleAssignments = &apiFamily{"Microsoft.Authorization/roleAssignments", []string{
		"2015-07-01", "2017-10-01-preview", "2018-01-01-preview", "2018-09-01-preview", "2020-03-01-preview",
		"2020-04-01-preview", "2020-08-01-preview", "2020-10-01-preview", "2022-01-01-preview", "2022-04-01",
	}}
	familyRoleDefinitions = &apiFamily{"Microsoft.Authorization/roleDefinitions", []string{
		"2015-07-01", "2018-01-01-preview", "2022-04-01", "2022-05-01-preview",
	}}
)

// checkAPIVersion validates the api-version query parameter for family. ARM requires it on
// every request.
func checkAPIVersion(f *apiFamily, values []string) (string, error) {
	if len(values) == 0 || values[0] == "" {
		return "", fault.New(fault.BadRequest, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
	}
	if len(values) > 1 {
		return "", fault.New(fault.BadRequest, "InvalidApiVersionParameter", "The api-version query parameter was given %d times; give it once.", len(values))
	}
	v := values[0]
	if slices.Contains(f.versions, v) {
		return v, nil
	}
	if wellFormedAPIVersion(v) && v > f.versions[len(f.versions)-1] {
		return v, nil
	}
	return "", fault.New(fault.BadRequest, "InvalidApiVersionParameter",
		"The api-version '%s' is invalid. The supported versions are '%s'.", clip(v), strings.Join(f.versions, ","))
}

// wellFormedAPIVersion reports whether v is YYYY-MM-DD with an optional -preview, -beta,
// -alpha or -privatepreview suffix.
func wellFormedAPIVersion(v string) bool {
	if len(v) < 10 {
		return false
	}
	date, suffix := v[:10], v[10:]
	for i := 0; i < 10; i++ {
		c := date[i]
		if i == 4 || i == 7 {
			if c != '-' {
				return false
			}
		} else if c < '0' || c > '9' {
			return false
		}
	}
	if date[5:7] < "01" || date[5:7] > "12" || date[8:10] < "01" || date[8:10] > "31" {
		return false
	}
	switch suffix {
	case "", "-preview", "-beta", "-alpha", "-privatepreview":
		return true
	}
	return false
}

func clip(s string) string { return arm.Clip(s) }

package arm

import (
	"strings"
)

// Location is an Azure region. Keystage runs everything in one place, so a location is only a
// label on resources; the list holds real Azure region names so that scripts written for
// Azure (az group create -l westeurope) work unchanged.
type Location struct {
	Name             string // "westeurope"
	DisplayName      string // "West Europe"
	GeographyGroup   string // "Europe"
	PhysicalLocation string // "Netherlands"
}

// RegionalDisplayName returns the name the portal shows, e.g. "(Europe) West Europe".
func (l Location) RegionalDisplayName() string {
	return "(" + l.GeographyGroup + ") " + l.DisplayName
}

var locations = []Location{
	{"eastus", "East US", "US", "Virginia"},
	{"eastus2", "East US 2", "US", "Virginia"},
	{"southcentralus", "South Central US", "US", "Texas"},
	{"westus2", "West US 2", "US", "Washington"},
	{"westus3", "West US 3", "US", "Phoenix"},
	{"centralus", "Central US", "US", "Iowa"},
	{"northcentralus", "North Central US", "US", "Illinois"},
	{"westus", "West US", "US", "California"},
	{"westcentralus", "West Central US", "US", "Wyoming"},
	{"canadacentral", "Canada Central", "Canada", "Toronto"},
	{"canadaeast", "Canada East", "Canada", "Quebec"},
	{"brazilsouth", "Brazil South", "South America", "Sao Paulo State"},
	{"mexicocentral", "Mexico Central", "Mexico", "Querétaro State"},
	{"northeurope", "North Europe", "Europe", "Ireland"},
	{"westeurope", "West Europe", "Europe", "Netherlands"},
	{"swedencentral", "Sweden Central", "Europe", "Gävle"},
	{"uksouth", "UK South", "Europe", "London"},
	{"ukwest", "UK West", "Europe", "Cardiff"},
	{"francecentral", "France Central", "Europe", "Paris"},
	{"germanywestcentral", "Germany West Central", "Europe", "Frankfurt"},
	{"italynorth", "Italy North", "Europe", "Milan"},
	{"norwayeast", "Norway East", "Europe", "Norway"},
	{"polandcentral", "Poland Central", "Europe", "Warsaw"},
	{"spaincentral", "Spain Central", "Europe", "Madrid"},
	{"switzerlandnorth", "Switzerland North", "Europe", "Zurich"},
	{"southafricanorth", "South Africa North", "Africa", "Johannesburg"},
	{"uaenorth", "UAE North", "Middle East", "Dubai"},
	{"qatarcentral", "Qatar Central", "Middle East", "Doha"},
	{"israelcentral", "Israel Central", "Middle East", "Israel"},
	{"centralindia", "Central India", "Asia Pacific", "Pune"},
	{"southindia", "South India", "Asia Pacific", "Chennai"},
	{"eastasia", "East Asia", "Asia Pacific", "Hong Kong"},
	{"southeastasia", "Southeast Asia", "Asia Pacific", "Singapore"},
	{"japaneast", "Japan East", "Asia Pacific", "Tokyo, Saitama"},
	{"japanwest", "Japan West", "Asia Pacific", "Osaka"},
	{"koreacentral", "Korea Central", "Asia Pacific", "Seoul"},
	{"australiaeast", "Australia East", "Asia Pacific", "New South Wales"},
	{"australiasoutheast", "Australia Southeast", "Asia Pacific", "Victoria"},
}

// Locations returns the regions Keystage accepts, in a fixed order.
func Locations() []Location {
	return append([]Location(nil), locations...)
}

// NormalizeLocation maps a region name or display name, in any case and with or without
// spaces ("West Europe", "westeurope"), to its canonical name. ok is false for an unknown
// region.
func NormalizeLocation(s string) (name string, ok bool) {
	key := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	for _, l := range locations {
		if l.Name == key {
			return l.Name, true
		}
	}
	return "", false
}

func locationNames() string {
	names := make([]string, len(locations))
	for i, l := range locations {
		names[i] = l.DisplayName
	}
	return strings.Join(names, ",")
}

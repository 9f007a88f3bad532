package devops

// Process is a work-item process template. Keystage has no work tracking; it offers the
// four system processes so that project creation and clients that pick a process work.
type Process struct {
	ID          string
	Name        string
	Description string
	IsDefault   bool
}

// Processes returns the system processes, the default (Agile) first.
func Processes() []Process {
	return []Process{
		{ID: "adcc42ab-9882-485e-a3ed-7678f01f66bc", Name: "Agile", IsDefault: true,
			Description: "This template is flexible and will work great for most teams using Agile planning methods, including those practicing Scrum."},
		{ID: "6b724908-ef14-45cf-84f8-768b5384da45", Name: "Scrum",
			Description: "This template is for teams who follow the Scrum framework."},
		{ID: "27450541-8e31-4150-9947-dc59f998fc01", Name: "CMMI",
			Description: "This template is for more formal projects requiring a framework for process improvement and an auditable record of decisions."},
		{ID: "b8a3a935-7e91-48b8-a94c-606d37c3e9f2", Name: "Basic",
			Description: "This template is flexible for any process and great for teams getting started with Azure DevOps."},
	}
}

// DefaultProcess returns the process new projects get when none is named.
func DefaultProcess() Process { return Processes()[0] }

// ProcessByID returns the process with id (any case).
func ProcessByID(id string) (Process, error) {
	if g, ok := normalizeGUID(id); ok {
		for _, p := range Processes() {
			if p.ID == g {
				return p, nil
			}
		}
	}
	return Process{}, notFound(CodeProcessNotFound, "VS402362: The process %s does not exist.", clip(id))
}

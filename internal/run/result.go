package run

import "github.com/keystage/keystage/internal/pipeline/job"

// aggregate combines the results of a job's instances or a stage's jobs: any Failed, else any
// Canceled, else any SucceededWithIssues, else Skipped if every part was skipped, else
// Succeeded. No parts count as Succeeded.
func aggregate(results []job.Result) job.Result {
	var failed, canceled, issues bool
	skipped := len(results) > 0
	for _, r := range results {
		switch r {
		case job.Failed:
			failed = true
		case job.Canceled:
			canceled = true
		case job.SucceededWithIssues:
			issues = true
		}
		if r != job.Skipped {
			skipped = false
		}
	}
	switch {
	case failed:
		return job.Failed
	case canceled:
		return job.Canceled
	case issues:
		return job.SucceededWithIssues
	case skipped:
		return job.Skipped
	}
	return job.Succeeded
}

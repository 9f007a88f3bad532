package agent

import (
	"strconv"
	"strings"

	"github.com/keystage/keystage/internal/mask"
)

// ignoreShortKnob is the agent knob that stops masking secrets shorter than its value.
const ignoreShortKnob = "AZP_IGNORE_SECRETS_SHORTER_THAN"

// newMasker creates the job's masker: Config.Mask, with the minimum secret length taken from
// the AZP_IGNORE_SECRETS_SHORTER_THAN knob (request variable first, then the agent's
// environment) when the configuration leaves it 0.
func (j *jobRun) newMasker() {
	cfg := j.e.cfg.Mask
	if cfg.MinLength == 0 {
		knob, ok := "", false
		for _, v := range j.req.Variables {
			if strings.EqualFold(v.Name, ignoreShortKnob) {
				knob, ok = v.Value, true
			}
		}
		if !ok {
			knob = j.e.environ[ignoreShortKnob]
		}
		if n, err := strconv.Atoi(strings.TrimSpace(knob)); err == nil && n > 0 {
			cfg.MinLength = n
		}
	}
	m, warns := mask.New(cfg)
	j.masker = m
	for _, w := range warns {
		j.maskWarns = append(j.maskWarns, w.Message)
	}
}

// addSecret registers a secret value with the masker; its warnings (short secrets) are
// logged by the next step or job line that collects them.
func (j *jobRun) addSecret(value string) {
	warns := j.masker.Add(value)
	if len(warns) == 0 {
		return
	}
	j.mu.Lock()
	for _, w := range warns {
		j.maskWarns = append(j.maskWarns, w.Message)
	}
	j.mu.Unlock()
}

// takeMaskWarnings returns and clears the masker warnings not yet logged.
func (j *jobRun) takeMaskWarnings() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	w := j.maskWarns
	j.maskWarns = nil
	return w
}

package nixllb

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// failedDrvRe finds the derivations nix names in a failure: "builder for
// '/nix/store/...drv' failed", "N dependencies of derivation '...drv'
// failed to build", "build of '...drv!out', ... failed".
var failedDrvRe = regexp.MustCompile(`/nix/store/[0-9a-z]{32}-[^'"\s!]+\.drv`)

// FailedGroups returns the indexes of the groups whose derivations a failed
// build step's log names, in order. groups is the step's MetaGroups.
func FailedGroups(groups []byte, log string) []int {
	byDrv := map[string][]int{}
	for _, line := range strings.Split(string(groups), "\n") {
		idx, drv, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(idx)
		if err != nil {
			continue
		}
		drv, _, _ = strings.Cut(drv, "!")
		byDrv[drv] = append(byDrv[drv], i)
	}
	// Lines that name the derivation that failed come first; nix's summary
	// ("build of A, B failed") names every requested one, failed or not.
	for _, specific := range []bool{true, false} {
		var out []int
		seen := map[int]bool{}
		for _, line := range strings.Split(log, "\n") {
			isSpecific := strings.Contains(line, "builder for") || strings.Contains(line, "dependencies of derivation")
			if !strings.Contains(line, "fail") || isSpecific != specific {
				continue
			}
			for _, drv := range failedDrvRe.FindAllString(line, -1) {
				for _, i := range byDrv[drv] {
					if !seen[i] {
						seen[i] = true
						out = append(out, i)
					}
				}
			}
		}
		if len(out) > 0 {
			sort.Ints(out)
			return out
		}
	}
	return nil
}

package zkconform

import (
	"fmt"
	"testing"
)

// The fake target must run every generated sequence without harness
// failures, and twice alike: it is deterministic, so any divergence between
// two of its own runs is a bug in it or in the normalisation.
func TestFakeTargetRunsGeneratedSequencesDeterministically(t *testing.T) {
	for i := 0; i < 60; i++ {
		seq := Generate(1, i)
		root := fmt.Sprintf("/conf/%d", i)
		a := Run(NewFakeTarget(FakeConfig{}), root, seq)
		b := Run(NewFakeTarget(FakeConfig{}), root, seq)
		if a.Setup != "" {
			t.Fatalf("sequence %d: setup failed: %s", i, a.Setup)
		}
		for j, r := range a.Records {
			if r.Outcome.Harness != "" {
				t.Fatalf("sequence %d step %d (%s): %s", i, j, FormatStep(r.Step), r.Outcome.Harness)
			}
		}
		if d := Compare(i, "fake", a, "fake-again", b); d != nil {
			t.Fatalf("two runs of the fake differ:\n%v", d)
		}
	}
}

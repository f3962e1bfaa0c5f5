package zkconform

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"
)

const root = "/zkconform/t/1"

func stat(cz, mz, pz, ct, mt int64, owner int64) *Stat {
	return &Stat{Czxid: cz, Mzxid: mz, Pzxid: pz, Ctime: ct, Mtime: mt, EphemeralOwner: owner}
}

func TestNormalizeRanksZxidsAndNamesSessions(t *testing.T) {
	// Two traces of the same history whose raw zxids, times and session
	// ids all differ must normalise identically.
	mk := func(base, tbase, sid int64) *Trace {
		return &Trace{Root: root, Sessions: 2,
			SessionNames: map[int64]string{sid: "s0", sid + 1: "s1", sid + 9: "s0.1"},
			Records: []Record{
				{Step: Step{Op: OpGet, Path: "a"}, Outcome: Outcome{Data: []byte("x"), Stat: stat(base+5, base+5, base+5, tbase, tbase, sid+1)}},
				{Step: Step{Op: OpSet, Path: "a"}, Outcome: Outcome{Stat: stat(base+5, base+9, base+5, tbase, tbase+3, sid+1)}},
				{Step: Step{Op: OpExists, Path: ""}, Outcome: Outcome{Exists: true, Stat: stat(base, base, base+5, tbase-7, tbase-7, 0)}},
				{Step: Step{Op: OpGet, Path: "b"}, Outcome: Outcome{Stat: stat(base+11, base+11, base+11, tbase+4, tbase+4, sid+9)}},
				{Step: Step{Op: OpCreate, Path: "a/"}, Outcome: Outcome{Path: root + "/a/0000000001"}},
			}}
	}
	na, nb := Normalize(mk(100, 5000, 0x1000)), Normalize(mk(7000, 90000, 0x77000))
	if d := CompareNormalized(0, "a", na, "b", nb); d != nil {
		t.Fatalf("same history diverges:\n%s", d)
	}
	if len(na.Anomalies) > 0 {
		t.Fatalf("anomalies: %v", na.Anomalies)
	}
	want := []string{
		`ok data="x" {cz=2 mz=2 pz=2 v=0 cv=0 av=0 eph=s1 len=0 nc=0}`,
		`ok {cz=2 mz=3 pz=2 v=0 cv=0 av=0 eph=s1 len=0 nc=0}`,
		`ok exists=true {cz=1 mz=1 pz=2 v=0 cv=0 av=0 eph=- len=0 nc=0}`,
		`ok data=nil {cz=4 mz=4 pz=4 v=0 cv=0 av=0 eph=s0.1 len=0 nc=0}`,
		`ok ~/a/0000000001`,
	}
	for i, w := range want {
		if got := na.Records[i].Outcome; got != w {
			t.Errorf("record %d:\n got %s\nwant %s", i, got, w)
		}
	}
}

func TestNormalizeTimeAnomalies(t *testing.T) {
	tr := &Trace{Root: root, Records: []Record{
		// create: ctime must equal mtime, as czxid == mzxid
		{Step: Step{Op: OpGet, Path: "a"}, Outcome: Outcome{Stat: stat(5, 5, 5, 100, 101, 0)}},
	}}
	if n := Normalize(tr); len(n.Anomalies) != 1 {
		t.Errorf("ctime != mtime for one zxid: anomalies %v", n.Anomalies)
	}
	tr.Records = []Record{
		{Step: Step{Op: OpGet, Path: "a"}, Outcome: Outcome{Stat: stat(5, 5, 5, 100, 100, 0)}},
		{Step: Step{Op: OpGet, Path: "b"}, Outcome: Outcome{Stat: stat(6, 6, 6, 99, 99, 0)}},
	}
	if n := Normalize(tr); len(n.Anomalies) != 1 || !strings.Contains(n.Anomalies[0], "backwards") {
		t.Errorf("clock going back as zxids grow: anomalies %v", n.Anomalies)
	}
	tr.Records[1].Outcome.Stat = stat(6, 6, 6, 100, 100, 0) // same ms is fine
	if n := Normalize(tr); len(n.Anomalies) != 0 {
		t.Errorf("equal times for later zxids: anomalies %v", n.Anomalies)
	}
	// Stats that come with errors are not looked at.
	tr.Records = []Record{{Step: Step{Op: OpGet, Path: "a"}, Outcome: Outcome{Err: CodeNoNode, Stat: stat(5, 5, 5, 1, 2, 0)}}}
	if n := Normalize(tr); len(n.Anomalies) != 0 || n.Records[0].Outcome != "err=NoNode" {
		t.Errorf("error outcome: %+v", n)
	}
}

func TestNormalizeChildrenAndPaths(t *testing.T) {
	tr := &Trace{Root: root, Records: []Record{
		{Step: Step{Op: OpChildren}, Outcome: Outcome{Children: []string{"b", "a", "s-0000000001"}, Stat: stat(1, 1, 3, 1, 1, 0)}},
		{Step: Step{Op: OpSync, Path: "x"}, Outcome: Outcome{Path: root + "/x"}},
		{Step: Step{Op: OpSync, Path: ""}, Outcome: Outcome{Path: root}},
		{Step: Step{Op: OpExists, Path: "q"}, Outcome: Outcome{Exists: false, Stat: &Stat{}}},
	}}
	n := Normalize(tr)
	want := []string{
		"ok children=[a b s-0000000001] {cz=1 mz=1 pz=2 v=0 cv=0 av=0 eph=- len=0 nc=0}",
		"ok ~/x", "ok ~", "ok exists=false",
	}
	for i, w := range want {
		if n.Records[i].Outcome != w {
			t.Errorf("record %d: got %s want %s", i, n.Records[i].Outcome, w)
		}
	}
}

func TestNormalizeMulti(t *testing.T) {
	step := Step{Op: OpMulti, Ops: []MultiOp{{Op: OpCreate, Path: "a"}, {Op: OpSet, Path: "a"}, {Op: OpCheck, Path: "b"}}}
	ok := Outcome{Multi: []MultiResult{{Path: root + "/a"}, {Stat: stat(4, 4, 4, 9, 9, 0)}, {}}}
	failed := Outcome{Err: CodeBadVersion, Multi: []MultiResult{{}, {Err: CodeBadVersion}, {Err: CodeRuntimeInconsistency}}}
	tr := &Trace{Root: root, Records: []Record{{Step: step, Outcome: ok}, {Step: step, Outcome: failed}}}
	n := Normalize(tr)
	if got, want := n.Records[0].Outcome, "ok [ok ~/a; ok {cz=1 mz=1 pz=1 v=0 cv=0 av=0 eph=- len=0 nc=0}; ok]"; got != want {
		t.Errorf("ok multi:\n got %s\nwant %s", got, want)
	}
	if got, want := n.Records[1].Outcome, "err=BadVersion [ok; err=BadVersion; err=RuntimeInconsistency]"; got != want {
		t.Errorf("failed multi:\n got %s\nwant %s", got, want)
	}
}

func TestNormalizeEvents(t *testing.T) {
	evs := []Event{
		{Type: EventSession, State: StateDisconnected},
		{Type: EventNodeDeleted, Path: root + "/b"},
		{Type: EventSession, State: StateConnecting},
		{Type: EventNodeChildrenChanged, Path: root},
		{Type: EventNodeDeleted, Path: root + "/a"},
		{Type: EventSession, State: StateHasSession},
	}
	tr := &Trace{Root: root, Sessions: 2, Records: []Record{
		{Step: Step{Op: OpDelete, Path: "b"}, Events: [][]Event{nil, evs}},
		{Step: Step{Op: OpExpire}, Events: [][]Event{
			{{Type: EventNotWatching, Path: root + "/z", Err: CodeSessionExpired}, {Type: EventSession, State: StateExpired},
				{Type: EventNotWatching, Path: root + "/c", Err: CodeSessionExpired}}, evs}},
	}}
	n := Normalize(tr)
	if got, want := strings.Join(n.Records[0].Events, " | "), "s1: NodeDeleted ~/b, NodeChildrenChanged ~, NodeDeleted ~/a"; got != want {
		t.Errorf("ordinary step keeps order, drops states:\n got %s\nwant %s", got, want)
	}
	want := "s0: NotWatching ~/c SessionExpired, NotWatching ~/z SessionExpired, Session Expired | " +
		"s1: NodeChildrenChanged ~, NodeDeleted ~/a, NodeDeleted ~/b"
	if got := strings.Join(n.Records[1].Events, " | "); got != want {
		t.Errorf("expiry step sorts:\n got %s\nwant %s", got, want)
	}
}

func TestErrCode(t *testing.T) {
	cases := []struct {
		err  error
		want Code
	}{
		{nil, CodeOK},
		{zk.ErrNoNode, CodeNoNode},
		{zk.ErrNodeExists, CodeNodeExists},
		{zk.ErrBadVersion, CodeBadVersion},
		{zk.ErrNotEmpty, CodeNotEmpty},
		{zk.ErrNoChildrenForEphemerals, CodeNoChildrenForEphemerals},
		{zk.ErrBadArguments, CodeBadArguments},
		{zk.ErrInvalidPath, CodeInvalidPath},
		{zk.ErrSessionExpired, CodeSessionExpired},
		{zk.ErrConnectionClosed, CodeConnectionClosed},
		{fmt.Errorf("Create with TTL flag disallowed: %w", zk.ErrInvalidFlags), CodeInvalidFlags},
		{errors.New("invalid flag value: [7]"), CodeInvalidFlagValue},
		{errors.New("unknown error: -2"), CodeRuntimeInconsistency},
		{errors.New("unknown error: -6"), CodeUnimplemented},
		{errors.New("unknown error: -999"), "Code(-999)"},
		{errors.New("boom"), "Other: boom"},
	}
	for _, c := range cases {
		if got := ErrCode(c.err); got != c.want {
			t.Errorf("ErrCode(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestFormatStep(t *testing.T) {
	cases := map[string]Step{
		`s1 create ~/a/s- flags=3 data="x"`: {Session: 1, Op: OpCreate, Path: "a/s-", Flags: 3, Data: []byte("x")},
		`s0 set ~ data=nil v=-1`:            {Op: OpSet, Version: -1},
		`s0 get "~/a\x01" watch`:            {Op: OpGet, Path: "a\x01", Watch: true},
		`s2 expire`:                         {Session: 2, Op: OpExpire},
		`s0 multi [create ~/a flags=1 data=""; check ~/b v=-1]`: {Op: OpMulti, Ops: []MultiOp{{Op: OpCreate, Path: "a", Flags: 1, Data: []byte{}}, {Op: OpCheck, Path: "b", Version: -1}}},
	}
	for want, s := range cases {
		if got := FormatStep(s); got != want {
			t.Errorf("got %s want %s", got, want)
		}
	}
}

package fakezk

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/kzsim/kzsim/sim"
)

// logWorld is a server writing its transaction log, with client slots.
type logWorld struct {
	w       *sim.World
	srv     *Server
	log     *bytes.Buffer
	clients []*Client
	procs   []sim.ProcID
}

func newLogWorld(t require.TestingT, cfg ServerConfig, clients int) *logWorld {
	lw := &logWorld{w: sim.New(sim.Options{Seed: 7, Latency: sim.Fixed(sim.Millisecond)}), log: &bytes.Buffer{}}
	cfg.TxnLog = lw.log
	if cfg.TickTime == 0 {
		cfg.TickTime = 200 * sim.Millisecond
	}
	lw.srv = NewServer(lw.w, "zk", cfg)
	for i := range clients {
		p := lw.w.AddProcess(fmt.Sprintf("c%d", i), sim.ProcessHooks{})
		lw.procs = append(lw.procs, p)
		lw.clients = append(lw.clients, Connect(lw.w, p, []sim.ProcID{lw.srv.ID()}, ClientConfig{SessionTimeout: 2 * sim.Second}))
	}
	lw.w.RunFor(20 * sim.Millisecond)
	return lw
}

// requireReplayGivesDump checks that replaying the log from an empty tree gives the server's dump.
func (lw *logWorld) requireReplayGivesDump(t interface {
	require.TestingT
	Helper()
}) {
	t.Helper()
	lw.srv.FlushTxnLog()
	require.NoError(t, lw.srv.TxnLogError())
	var want bytes.Buffer
	require.NoError(t, WriteDump(&want, lw.srv.View()))
	replayed, err := ReplayTxnLog(bytes.NewReader(lw.log.Bytes()))
	require.NoError(t, err, "log:\n%s", lw.log.String())
	var got bytes.Buffer
	require.NoError(t, WriteDump(&got, ViewOf(replayed)))
	require.Equal(t, want.String(), got.String(), "log:\n%s", lw.log.String())
}

func TestTxnLogLines(t *testing.T) {
	lw := newLogWorld(t, ServerConfig{}, 2)
	a, b := lw.clients[0], lw.clients[1]
	sa, sb := a.SessionID(), b.SessionID()
	a.Create("/app", []byte("cfg"), 0, WorldACL(PermAll), func(string, error) {})
	a.Create("/app/e", []byte{0xff, 0x00}, FlagEphemeral, WorldACL(PermAll), func(string, error) {})
	b.Set("/app", []byte("v2"), 0, func(*Stat, error) {})
	b.Set("/app", []byte("bad version"), 0, func(*Stat, error) {}) // fails: not logged
	b.Multi([]Op{
		&CheckVersionRequest{Path: "/app", Version: 1},
		&CreateRequest{Path: "/app/m", Data: []byte("\"q\"\n"), Acl: WorldACL(PermAll)},
		&DeleteRequest{Path: "/app/m", Version: -1},
	}, func([]MultiResponse, error) {})
	lw.w.RunFor(50 * sim.Millisecond)
	require.True(t, lw.srv.Expire(sa))
	lw.w.RunFor(50 * sim.Millisecond)

	lines := strings.Split(strings.TrimSpace(lw.log.String()), "\n")
	// The zxids and times are the server's; pin the shape of each line with them cut off.
	var shapes []string
	for _, l := range lines {
		i := strings.Index(l, `"type"`)
		require.Positive(t, i, l)
		shapes = append(shapes, l[i:])
	}
	require.Equal(t, []string{
		`"type":"createSession"}`,
		`"type":"createSession"}`,
		`"type":"create","path":"/app","data":"cfg","ephemeral_owner":0}`,
		fmt.Sprintf(`"type":"create","path":"/app/e","data_b64":"/wA=","ephemeral_owner":%d}`, sa),
		`"type":"setData","path":"/app","data":"v2","version":1}`,
		`"type":"create","path":"/app/m","data":"\"q\"\u000a","ephemeral_owner":0,"multi":true}`,
		`"type":"delete","path":"/app/m","multi":true}`,
		`"type":"closeSession"}`,
		`"type":"delete","path":"/app/e"}`,
	}, shapes[:9])
	recs, err := ReadTxnLog(strings.NewReader(lw.log.String()))
	require.NoError(t, err)
	require.Equal(t, sb, recs[1].Session)
	require.Equal(t, recs[5].Zxid, recs[6].Zxid, "ops of one multi share its zxid")
	require.Equal(t, recs[7].Zxid, recs[8].Zxid, "a closeSession's deletes share its zxid")
	require.Equal(t, sa, recs[8].Session)
	require.Equal(t, recs[4].Zxid+2, recs[5].Zxid, "the failed setData took a zxid of its own")
	require.Equal(t, []byte{0xff, 0}, recs[3].Data)
	for i := 1; i < len(recs); i++ {
		require.LessOrEqual(t, recs[i-1].Zxid, recs[i].Zxid)
		require.LessOrEqual(t, recs[i-1].TimeNs, recs[i].TimeNs)
	}
	lw.requireReplayGivesDump(t)
}

func TestTxnLogHasContainerReaping(t *testing.T) {
	lw := newLogWorld(t, ServerConfig{ContainerCheckInterval: sim.Second}, 1)
	c := lw.clients[0]
	c.CreateContainer("/box", nil, FlagContainer, WorldACL(PermAll), func(string, error) {})
	c.Create("/box/item", nil, 0, WorldACL(PermAll), func(string, error) {})
	c.Delete("/box/item", -1, func(error) {})
	lw.w.RunFor(3 * sim.Second)
	_, ok := lw.srv.Tree().Exists("/box")
	require.False(t, ok, "the empty container was reaped")
	recs, err := ReadTxnLog(bytes.NewReader(lw.log.Bytes()))
	require.NoError(t, err)
	last := recs[len(recs)-1]
	require.Equal(t, TxnRecord{Zxid: last.Zxid, TimeNs: last.TimeNs, Type: TxnDelete, Path: "/box"}, last)
	require.True(t, recs[1].Container)
	lw.requireReplayGivesDump(t)

	// Without the reaping's line the replay keeps /box: the comparison above would fail.
	log := lw.log.String()
	cut := strings.LastIndex(strings.TrimSuffix(log, "\n"), "\n")
	replayed, err := ReplayTxnLog(strings.NewReader(log[:cut+1]))
	require.NoError(t, err)
	_, ok = replayed.Exists("/box")
	require.True(t, ok)
}

func TestReplayRejectsBadLogs(t *testing.T) {
	for _, tc := range []struct{ name, log, err string }{
		{"not json", "{\n", "txn log line 1: unexpected end of JSON input"},
		{"unknown type", `{"zxid":1,"type":"rename"}`, `txn log line 1: unknown type "rename"`},
		{"zxid goes down", `{"zxid":2,"type":"createSession","session":5}` + "\n" + `{"zxid":1,"type":"create","path":"/a","data":""}`, "txn log line 2: zxid 0x1 after 0x2"},
		{"zxid repeats", `{"zxid":1,"type":"create","path":"/a","data":""}` + "\n" + `{"zxid":1,"type":"create","path":"/b","data":""}`, "txn log line 2: zxid 0x1 after 0x1"},
		{"missing parent", `{"zxid":1,"type":"create","path":"/a/b","data":""}`, "txn log line 1: create /a/b: zk: node does not exist"},
		{"wrong version", `{"zxid":1,"type":"create","path":"/a","data":""}` + "\n" + `{"zxid":2,"type":"setData","path":"/a","data":"x","version":3}`, "txn log line 2: setData /a gives version 1, the log says 3"},
		{"dead owner", `{"zxid":1,"type":"create","path":"/a","data":"","ephemeral_owner":9}`, "txn log line 1: ephemeral /a of a session that is not live (0x9)"},
		{"both data forms", `{"zxid":1,"type":"create","path":"/a","data":"","data_b64":""}`, "txn log line 1: both data and data_b64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReplayTxnLog(strings.NewReader(tc.log))
			require.EqualError(t, err, tc.err)
		})
	}
}

func TestDumpRoundTrips(t *testing.T) {
	tr := NewTree()
	mk(t, tr, 1, "/a", 0)
	_, _, err := tr.Set(bob, 2, 0, "/a", []byte{0xc3, 0x28}, -1) // not UTF-8
	require.NoError(t, err)
	mk(t, tr, 3, "/a/t\"ext", FlagEphemeral)
	var buf bytes.Buffer
	require.NoError(t, WriteDump(&buf, ViewOf(tr)))
	require.Contains(t, buf.String(), `"/a": {"data_b64": "wyg=", "ephemeral_owner": 0, "version": 1}`)
	nodes, err := ReadDump(&buf)
	require.NoError(t, err)
	require.Len(t, nodes, tr.Len())
	require.Equal(t, DumpNode{Data: []byte{0xc3, 0x28}, Version: 1}, nodes["/a"])
	require.Equal(t, DumpNode{Data: []byte("/a/t\"ext"), EphemeralOwner: bob.Session}, nodes["/a/t\"ext"])
	_, err = ReadDump(strings.NewReader(`{"/": {"version": 0}}`))
	require.EqualError(t, err, "dump: /: needs exactly one of data and data_b64")
}

// TestReplayOfRandomWorkloadGivesDump drives a server with random client operations, session
// closes, expiries and container reaping, and requires that replaying its log gives its dump.
func TestReplayOfRandomWorkloadGivesDump(t *testing.T) {
	paths := []string{"/a", "/b", "/a/x", "/a/y", "/b/x", "/a/x/z"}
	seen := map[string]int{}
	rapid.Check(t, func(t *rapid.T) {
		lw := newLogWorld(t, ServerConfig{ContainerCheckInterval: 400 * sim.Millisecond}, 3)
		slot := func() int { return rapid.IntRange(0, len(lw.clients)-1).Draw(t, "client") }
		path := func() string { return rapid.SampledFrom(paths).Draw(t, "path") }
		data := func() []byte {
			return rapid.SampledFrom([][]byte{nil, []byte("x"), {0xff}, []byte("é\n\"")}).Draw(t, "data")
		}
		flags := func() int32 { return rapid.SampledFrom([]int32{0, 0, 1, 2, 3}).Draw(t, "flags") }
		drawOp := func() Op {
			switch rapid.IntRange(0, 3).Draw(t, "op") {
			case 0:
				return &CreateRequest{Path: path(), Data: data(), Acl: WorldACL(PermAll), Flags: flags()}
			case 1:
				return &SetDataRequest{Path: path(), Data: data(), Version: -1}
			case 2:
				return &DeleteRequest{Path: path(), Version: -1}
			default:
				return &CheckVersionRequest{Path: path(), Version: rapid.Int32Range(-1, 1).Draw(t, "version")}
			}
		}
		t.Repeat(map[string]func(*rapid.T){
			"create": func(t *rapid.T) {
				lw.clients[slot()].Create(path(), data(), flags(), WorldACL(PermAll), func(string, error) {})
			},
			"container": func(t *rapid.T) {
				lw.clients[slot()].CreateContainer(path(), nil, FlagContainer, WorldACL(PermAll), func(string, error) {})
			},
			"containerCycle": func(t *rapid.T) {
				// A container that has had a child and lost it: reaped at the next check.
				c := lw.clients[slot()]
				c.CreateContainer("/box", nil, FlagContainer, WorldACL(PermAll), func(string, error) {})
				c.Create("/box/x", nil, 0, WorldACL(PermAll), func(string, error) {})
				c.Delete("/box/x", -1, func(error) {})
			},
			"set": func(t *rapid.T) {
				lw.clients[slot()].Set(path(), data(), -1, func(*Stat, error) {})
			},
			"delete": func(t *rapid.T) {
				lw.clients[slot()].Delete(path(), -1, func(error) {})
			},
			"multi": func(t *rapid.T) {
				ops := make([]Op, rapid.IntRange(1, 3).Draw(t, "ops"))
				for i := range ops {
					ops[i] = drawOp()
				}
				lw.clients[slot()].Multi(ops, func([]MultiResponse, error) {})
			},
			"close": func(t *rapid.T) {
				i := slot()
				lw.clients[i].Close()
				lw.w.RunFor(5 * sim.Millisecond)
				lw.clients[i] = Connect(lw.w, lw.procs[i], []sim.ProcID{lw.srv.ID()}, ClientConfig{SessionTimeout: 2 * sim.Second})
			},
			"expire": func(t *rapid.T) {
				lw.srv.Expire(lw.clients[slot()].SessionID())
			},
			"run": func(t *rapid.T) {
				lw.w.RunFor(sim.Duration(rapid.IntRange(0, 500).Draw(t, "ms")) * sim.Millisecond)
			},
		})
		lw.w.RunFor(100 * sim.Millisecond)
		lw.requireReplayGivesDump(t)
		recs, err := ReadTxnLog(bytes.NewReader(lw.log.Bytes()))
		require.NoError(t, err)
		for i, r := range recs {
			seen[r.Type]++
			switch {
			case r.Multi:
				seen["multi"]++
			case r.Type == TxnDelete && recs[i-1].Type == TxnCloseSession:
				seen["ephemeral delete"]++
			case r.Type == TxnDelete && r.Session == 0:
				seen["container reaped"]++
			}
		}
	})
	// The workload reaches every kind of line.
	for _, k := range []string{TxnCreateSession, TxnCloseSession, TxnCreate, TxnSetData, TxnDelete, "multi", "ephemeral delete", "container reaped"} {
		require.Positive(t, seen[k], "no %s line in any case: %v", k, seen)
	}
}

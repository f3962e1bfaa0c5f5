package zkconform

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/sim"
)

// The Java stories compare fakezk's JavaClient mode with ZooKeeper 3.8's own
// Java client (the one Kafka's brokers use) where that can be done without
// timing: a few scripted session stories (connect, close, a dropped
// connection, an expiry), each reduced to the ordered lines of what the
// client's default watcher and callbacks saw. The real side is
// javaclient/JavaStories.java, compiled with javac against ZooKeeper's jar
// (which carries the client) and run on a real server; the fake side runs
// the same story through fakezk over the kernel. Not covered: a request in
// flight when the connection breaks, whose outcome on loopback races the break.

//go:embed javaclient/JavaStories.java
var javaStoriesSource []byte

// JavaStoryNames are the stories, in the order they run.
var JavaStoryNames = []string{"connect", "close", "drop", "expire"}

// JavaStories maps a story to its observation lines.
type JavaStories map[string][]string

// JavaJars is the classpath of ZooKeeper's Java client on Debian.
var JavaJars = []string{"/usr/share/java/zookeeper.jar"}

// RealJavaStories compiles the driver in a temporary directory and runs it
// against the server at addr, under root (which it creates).
func RealJavaStories(addr, root string) (JavaStories, error) {
	for _, tool := range []string{"javac", "java"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("java stories need %s (Debian: default-jdk-headless): %w", tool, err)
		}
	}
	dir, err := os.MkdirTemp("", "zkconform-java-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "JavaStories.java"), javaStoriesSource, 0o644); err != nil {
		return nil, err
	}
	cp := strings.Join(JavaJars, ":")
	if out, err := exec.Command("javac", "-d", dir, "-cp", cp, filepath.Join(dir, "JavaStories.java")).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("javac: %w: %s", err, out)
	}
	cmd := exec.Command("java", "-cp", cp+":"+dir, "JavaStories", addr, root)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("java driver: %w: %s", err, ee.Stderr)
		}
		return nil, fmt.Errorf("java driver: %w", err)
	}
	stories := JavaStories{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		story, obs, ok := strings.Cut(line, "\t")
		if !ok || !slices.Contains(JavaStoryNames, story) {
			return nil, fmt.Errorf("java driver: unexpected line %q", line)
		}
		stories[story] = append(stories[story], obs)
	}
	return stories, nil
}

// CompareJavaStories returns one line per story whose observations differ.
func CompareJavaStories(real, fake JavaStories) []string {
	var out []string
	for _, name := range JavaStoryNames {
		if r, f := real[name], fake[name]; !slices.Equal(r, f) {
			out = append(out, fmt.Sprintf("java story %s:\n  real: %q\n  fake: %q", name, r, f))
		}
	}
	return out
}

// javaState is the Java KeeperState name of a JavaClient session state.
func javaState(s fakezk.State) string {
	switch s {
	case fakezk.StateSyncConnected:
		return "SyncConnected"
	case fakezk.StateDisconnected:
		return "Disconnected"
	case fakezk.StateExpired:
		return "Expired"
	case fakezk.StateClosed:
		return "Closed"
	}
	return s.String()
}

// javaRC is the KeeperException.Code name the Java driver prints.
func javaRC(err error) string {
	switch {
	case err == nil:
		return "OK"
	case errors.Is(err, fakezk.ErrConnectionLoss):
		return "CONNECTIONLOSS"
	case errors.Is(err, fakezk.ErrSessionExpired):
		return "SESSIONEXPIRED"
	case errors.Is(err, fakezk.ErrNoNode):
		return "NONODE"
	}
	return err.Error()
}

// javaStory is one story's world on the fake side.
type javaStory struct {
	w                      *sim.World
	srv                    *fakezk.Server
	log                    []string
	syncedAt, disconnected sim.Time
}

func (s *javaStory) connect(name string) *fakezk.Client {
	p := s.w.AddProcess(name, sim.ProcessHooks{})
	c := fakezk.Connect(s.w, p, []sim.ProcID{s.srv.ID()}, fakezk.ClientConfig{
		SessionTimeout: 4 * sim.Second, Mode: fakezk.JavaClient,
		EventCallback: func(ev fakezk.Event) {
			if ev.Type == fakezk.EventSession {
				switch ev.State {
				case fakezk.StateSyncConnected:
					s.syncedAt = s.w.Now()
				case fakezk.StateDisconnected:
					s.disconnected = s.w.Now()
				}
				s.log = append(s.log, "event "+javaState(ev.State))
			}
		},
	})
	s.await("event SyncConnected", 10*sim.Second)
	return c
}

// await runs the world until line has been logged or d has passed.
func (s *javaStory) await(line string, d sim.Duration) {
	deadline := s.w.Now().Add(d)
	for !slices.Contains(s.log, line) && s.w.Now() < deadline && s.w.Step() {
	}
}

func (s *javaStory) add(line string) { s.log = append(s.log, line) }

func (s *javaStory) exists(path string) bool {
	_, ok := s.srv.Tree().Exists(path)
	return ok
}

// FakeJavaStories runs the stories through fakezk's JavaClient mode.
func FakeJavaStories() JavaStories {
	out := JavaStories{}
	for _, name := range JavaStoryNames {
		w := sim.New(sim.Options{Seed: 1, Latency: sim.Fixed(sim.Millisecond), ConnBreakDetect: 100 * sim.Millisecond, Trace: sim.TraceOff})
		s := &javaStory{w: w, srv: fakezk.NewServer(w, "zk", fakezk.ServerConfig{TickTime: 200 * sim.Millisecond})}
		acl := fakezk.WorldACL(fakezk.PermAll)
		switch name {
		case "connect":
			c := s.connect("a")
			c.Close()
			w.RunFor(200 * sim.Millisecond)
		case "close":
			c := s.connect("c")
			c.Create("/c", nil, fakezk.FlagEphemeral, acl, func(string, error) {})
			c.Get("/c", func(_ []byte, _ *fakezk.Stat, err error) { s.add("get before close: " + javaRC(err)) })
			c.Close() // ZooKeeper.close() returns once the handle is closed: wait for that
			s.await("event Closed", 2*sim.Second)
			c.Get("/c", func(_ []byte, _ *fakezk.Stat, err error) { s.add("get after close: " + javaRC(err)) })
			w.RunFor(100 * sim.Millisecond)
			s.add(fmt.Sprintf("ephemeral exists after close: %v", s.exists("/c")))
		case "drop":
			c := s.connect("d")
			session := c.SessionID()
			c.DropConnection()
			s.await("event Disconnected", 3*sim.Second)
			c.Create("/d", nil, 0, acl, func(_ string, err error) { s.add("create while disconnected: " + javaRC(err)) })
			s.await("create while disconnected: OK", 5*sim.Second)
			d := s.syncedAt.Sub(s.disconnected)
			s.add(fmt.Sprintf("reconnect 1.0-2.2s after Disconnected: %v", d >= sim.Second && d <= 2200*sim.Millisecond))
			s.add(fmt.Sprintf("same session: %v", c.SessionID() == session))
			c.Close()
			w.RunFor(200 * sim.Millisecond)
		case "expire":
			c := s.connect("e")
			c.Create("/e", nil, fakezk.FlagEphemeral, acl, func(string, error) {})
			w.RunFor(10 * sim.Millisecond)
			// The real driver has another handle take the session over and close it; the
			// client sees the same: its connection closed by the server, the session gone.
			s.srv.Expire(c.SessionID())
			s.await("event Disconnected", 3*sim.Second)
			c.Get("/e", func(_ []byte, _ *fakezk.Stat, err error) { s.add("get while disconnected: " + javaRC(err)) })
			s.await("event Expired", 5*sim.Second)
			w.RunFor(3 * sim.Second)
			c.Get("/e", func(_ []byte, _ *fakezk.Stat, err error) { s.add("get after expiry: " + javaRC(err)) })
			w.RunFor(100 * sim.Millisecond)
			alive := c.State() == fakezk.StateSyncConnected || c.State() == fakezk.StateConnecting
			s.add(fmt.Sprintf("alive after expiry: %v", alive))
			s.add(fmt.Sprintf("ephemeral exists after expiry: %v", s.exists("/e")))
		}
		out[name] = s.log
	}
	return out
}

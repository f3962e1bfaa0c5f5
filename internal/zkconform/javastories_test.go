package zkconform

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// javaSeen is what ZooKeeper 3.8.0's Java client printed for the stories
// (JavaStories.java against Debian's zookeeper 3.8.0-11+deb12u2, standalone,
// tickTime 200), so the fake side is checked even where no server runs.
var javaSeen = JavaStories{
	"connect": {"event SyncConnected", "event Closed"},
	"close": {"event SyncConnected", "get before close: OK", "event Closed",
		"get after close: SESSIONEXPIRED", "ephemeral exists after close: false"},
	"drop": {"event SyncConnected", "event Disconnected", "event SyncConnected",
		"create while disconnected: OK", "reconnect 1.0-2.2s after Disconnected: true", "same session: true", "event Closed"},
	"expire": {"event SyncConnected", "event Disconnected", "event Expired",
		"get while disconnected: SESSIONEXPIRED", "get after expiry: SESSIONEXPIRED",
		"alive after expiry: false", "ephemeral exists after expiry: false"},
}

func TestFakeJavaStoriesMatchTheRecordedJavaClient(t *testing.T) {
	assert.Empty(t, CompareJavaStories(javaSeen, FakeJavaStories()))
}

func TestCompareJavaStoriesReportsADifference(t *testing.T) {
	fake := FakeJavaStories()
	fake["expire"] = append(fake["expire"], "event SyncConnected") // as if go-zk renewed the session
	diffs := CompareJavaStories(javaSeen, fake)
	require.Len(t, diffs, 1)
	assert.Contains(t, diffs[0], "java story expire")
}

// TestRealJavaStories runs the driver on a real server (javac and ZooKeeper's
// jar needed) and compares it with the fake.
func TestRealJavaStories(t *testing.T) {
	addr := realAddr(t)
	real, err := RealJavaStories(addr, fmt.Sprintf("/zkconform-java/%x", time.Now().UnixNano()))
	require.NoError(t, err)
	assert.Equal(t, javaSeen, real, "the Java client still does what was recorded")
	assert.Empty(t, CompareJavaStories(real, FakeJavaStories()))
}

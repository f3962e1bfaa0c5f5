package proto

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestFetchSummaries pins the fetch path's trace summaries to the fmt
// forms they replaced (every saved trace hash depends on these bytes).
func TestFetchSummaries(t *testing.T) {
	tp := TopicPartition{Topic: "orders", Partition: 7}
	for _, r := range []*FetchRequest{
		{ReplicaID: -1},
		{ReplicaID: 3, Partitions: []FetchPartition{{TopicPartition: tp, FetchOffset: 42}}},
		{ReplicaID: 12, Partitions: []FetchPartition{{TopicPartition: tp}, {TopicPartition: tp}}},
	} {
		want := fmt.Sprintf("replica=%d partitions=%d", r.ReplicaID, len(r.Partitions))
		if len(r.Partitions) == 1 {
			want += fmt.Sprintf(" %s offset=%d", r.Partitions[0].TopicPartition, r.Partitions[0].FetchOffset)
		}
		assert.Equal(t, want, r.String())
	}
	resp := &FetchResponse{Partitions: []FetchPartitionResponse{{Records: make([]Record, 3)}, {Error: NotLeaderForPartition}}}
	assert.Equal(t, "partitions=2 records=3 failed=1", resp.String())
	assert.Equal(t, "replica=-1 partitions=0", (&OffsetsForLeaderEpochRequest{ReplicaID: -1}).String())
	assert.Equal(t, "partitions=1", (&OffsetsForLeaderEpochResponse{Partitions: make([]EpochEndOffset, 1)}).String())
}

package log

// TruncationOffset says where this follower's log must be truncated given
// the leader's OffsetsForLeaderEpoch answer (leaderEpoch, leaderEndOffset)
// to the request the follower sent with its LatestEpoch, following Kafka
// 2.6 `AbstractFetcherThread.getOffsetTruncationState` (KIP-101, KIP-279).
// fetchOffset is the follower's fetch offset for the partition: the high
// watermark it had when it became follower (`ReplicaManager.makeFollowers`).
//
//   - leaderEndOffset undefined (the leader knows no such epoch): truncate to
//     fetchOffset, done;
//   - leaderEpoch undefined (a version 0 answer, KIP-101 before KIP-279; the
//     broker passes UndefinedEpoch for eras before 2.0): min(leaderEndOffset,
//     LEO), done;
//   - the follower's own largest epoch at most leaderEpoch differs from it
//     (the follower never had leaderEpoch): truncate to that epoch's end
//     offset (at most the LEO) and ask again with the new LatestEpoch, not
//     done;
//   - otherwise min(own end offset of leaderEpoch, leaderEndOffset, LEO),
//     done (a leaderEpoch below all the follower's epochs ends, for the
//     follower, at its first epoch's start);
//   - a follower with no epochs at all: min(leaderEndOffset, LEO), done.
//
// The broker then calls TruncateTo(offset) (TruncateFully if offset is
// below LogStartOffset) and, when done, fetches from offset. A follower
// whose LatestEpoch is UndefinedEpoch sends no request: Kafka truncates it
// to its high watermark (`truncateToHighWatermark`), as eras before 0.11 do
// for every follower (KAFKA-1211).
//
// Each round that is not done lowers the follower's latest epoch, except
// in Kafka 2.6 when that latest epoch has no records (KAFKA-10706: the
// follower repeats the round until a new leader epoch); with the fix the
// broker calls TruncateEpochsFromEnd(offset) after TruncateTo. The broker
// bounds the rounds as Kafka does, one per fetch backoff.
func (l *Log) TruncationOffset(leaderEpoch int32, leaderEndOffset, fetchOffset int64) (offset int64, done bool) {
	leo := l.LogEndOffset()
	if leaderEndOffset == UndefinedEpochOffset {
		return fetchOffset, true
	}
	if leaderEpoch == UndefinedEpoch {
		return min(leaderEndOffset, leo), true
	}
	epoch, endOffset := l.EndOffsetForEpoch(leaderEpoch)
	if endOffset == UndefinedEpochOffset {
		return min(leaderEndOffset, leo), true
	}
	if epoch != leaderEpoch {
		return min(endOffset, leo), false
	}
	return min(endOffset, leaderEndOffset, leo), true
}

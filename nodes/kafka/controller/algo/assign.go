package algo

import (
	"fmt"
	"slices"

	"github.com/kzsim/kzsim/sim"
)

// Broker is a broker as replica assignment sees it: its id and its rack
// (`broker.rack`), "" when the broker has none.
type Broker struct {
	ID   int32
	Rack string
}

// Placement is the pair of numbers Kafka draws at random for each
// assignment: the index in the broker list of partition 0's first replica,
// and the shift between a partition's first replica and its second. Both
// must be >= 0; values past the broker count wrap around, as in Kafka.
type Placement struct {
	StartIndex   int
	ReplicaShift int
}

// FixedPlacement is Kafka's `fixedStartIndex` argument: it sets both the
// start index and the replica shift to i (Kafka 2.6 `AdminUtils`), which is
// how Kafka adds partitions to an existing topic and how its documented
// examples are computed.
func FixedPlacement(i int) Placement { return Placement{StartIndex: i, ReplicaShift: i} }

// DrawPlacement draws a placement for n brokers from r, as Kafka 2.6
// `AdminUtils` does when no fixed start index is given: the start index
// first, then the replica shift, each uniform in [0, n). It panics if n <= 0
// (Kafka has already refused the request by then).
//
// Simplification: Kafka draws from java.util.Random; the values here come
// from the simulation's stream, so the distribution is the same but the
// numbers for a given seed are not Java's.
func DrawPlacement(r *sim.Rand, n int) Placement {
	start := r.Intn(n)
	shift := r.Intn(n)
	return Placement{StartIndex: start, ReplicaShift: shift}
}

// AssignReplicas returns the replica assignment of partitions partitions
// numbered from firstPartition, each with replicationFactor replicas, over
// brokers: element i of the result is the replica list (preferred replica
// first) of partition firstPartition+i. It follows Kafka 2.6
// `AdminUtils.assignReplicasToBrokers`: rack unaware when no broker has a
// rack, rack aware when every broker has one, an error when only some have.
//
// Brokers are taken in id order whatever order they are given in, as Kafka's
// ZooKeeper-side callers pass them (Kafka 2.6 `AdminZkClient.getBrokerMetadatas`
// ends with `sortBy(_.id)`; it serves kafka-topics --zookeeper and
// CreatePartitions). Simplification: the CreateTopics request handler (Kafka
// 2.6 `AdminManager.createTopics`) passes its metadata cache's brokers in
// the hash order of a Scala LongMap instead; that order is not modelled, so
// a rack-unaware topic created that way may differ from Kafka's for the same
// start index and shift (rack-aware assignment sorts anyway).
//
// Errors, one line each, as Kafka raises them: partitions or replication
// factor not positive, replication factor above the broker count, partial
// rack information; and, for API misuse Kafka cannot see, a duplicate broker
// id, a negative placement or a negative first partition.
func AssignReplicas(brokers []Broker, partitions, replicationFactor int, p Placement, firstPartition int32) ([][]int32, error) {
	if partitions <= 0 {
		return nil, fmt.Errorf("assign replicas: number of partitions must be larger than 0 (got %d)", partitions)
	}
	if replicationFactor <= 0 {
		return nil, fmt.Errorf("assign replicas: replication factor must be larger than 0 (got %d)", replicationFactor)
	}
	if replicationFactor > len(brokers) {
		return nil, fmt.Errorf("assign replicas: replication factor: %d larger than available brokers: %d", replicationFactor, len(brokers))
	}
	if p.StartIndex < 0 || p.ReplicaShift < 0 {
		return nil, fmt.Errorf("assign replicas: negative placement (start index %d, replica shift %d)", p.StartIndex, p.ReplicaShift)
	}
	if firstPartition < 0 {
		return nil, fmt.Errorf("assign replicas: negative first partition %d", firstPartition)
	}
	sorted := slices.Clone(brokers)
	slices.SortFunc(sorted, func(a, b Broker) int { return int(a.ID) - int(b.ID) })
	withRack := 0
	for i, b := range sorted {
		if i > 0 && sorted[i-1].ID == b.ID {
			return nil, fmt.Errorf("assign replicas: broker %d listed twice", b.ID)
		}
		if b.Rack != "" {
			withRack++
		}
	}
	switch withRack {
	case 0:
		ids := make([]int32, len(sorted))
		for i, b := range sorted {
			ids[i] = b.ID
		}
		return assignRackUnaware(ids, partitions, replicationFactor, p, int(firstPartition)), nil
	case len(sorted):
		return assignRackAware(sorted, partitions, replicationFactor, p, int(firstPartition)), nil
	default:
		return nil, fmt.Errorf("assign replicas: not all brokers have rack information for replica rack aware assignment (%d of %d have a rack)", withRack, len(sorted))
	}
}

// replicaIndex is the index in a list of n brokers of a partition's replica
// j+1 (j counts from 0 for the second replica), given the index of its first
// replica and the shift: 1 + (shift + j) mod (n-1) places after the first, so
// that it never lands on the first (Kafka 2.6 `AdminUtils.replicaIndex`).
func replicaIndex(first, shift, j, n int) int {
	return (first + 1 + (shift+j)%(n-1)) % n
}

// assignRackUnaware is Kafka 2.6 `assignReplicasToBrokersRackUnaware`: first
// replicas round-robin from the start index; the others at an increasing
// shift from the first, the shift growing by one each time the partition id
// wraps past a multiple of the broker count.
func assignRackUnaware(ids []int32, partitions, rf int, p Placement, firstPartition int) [][]int32 {
	n := len(ids)
	shift := p.ReplicaShift
	out := make([][]int32, 0, partitions)
	for pid := firstPartition; pid < firstPartition+partitions; pid++ {
		if pid > 0 && pid%n == 0 {
			shift++
		}
		first := (pid + p.StartIndex) % n
		replicas := make([]int32, 0, rf)
		replicas = append(replicas, ids[first])
		for j := 0; j < rf-1; j++ {
			replicas = append(replicas, ids[replicaIndex(first, shift, j, n)])
		}
		out = append(out, replicas)
	}
	return out
}

// RackAlternated returns the brokers (all with a rack) in Kafka's rack
// alternated order: racks in sorted order, brokers within a rack in id
// order, one broker from each rack in turn until all are taken (Kafka 2.6
// `AdminUtils.getRackAlternatedBrokerList`).
func RackAlternated(brokers []Broker) []int32 {
	byRack := map[string][]int32{}
	for _, b := range brokers {
		byRack[b.Rack] = append(byRack[b.Rack], b.ID)
	}
	racks := make([]string, 0, len(byRack))
	for r, ids := range byRack {
		racks = append(racks, r)
		slices.Sort(ids)
	}
	slices.Sort(racks)
	out := make([]int32, 0, len(brokers))
	next := make([]int, len(racks))
	for i := 0; len(out) < len(brokers); i = (i + 1) % len(racks) {
		ids := byRack[racks[i]]
		if next[i] < len(ids) {
			out = append(out, ids[next[i]])
			next[i]++
		}
	}
	return out
}

// assignRackAware is Kafka 2.6 `assignReplicasToBrokersRackAware`: first
// replicas round-robin over the rack-alternated list; each further replica
// walks the list from an offset of shift*racks, skipping a broker whose rack
// already holds a replica while some rack holds none, and a broker already
// holding one while some broker holds none.
func assignRackAware(brokers []Broker, partitions, rf int, p Placement, firstPartition int) [][]int32 {
	rackOf := make(map[int32]string, len(brokers))
	racks := map[string]bool{}
	for _, b := range brokers {
		rackOf[b.ID] = b.Rack
		racks[b.Rack] = true
	}
	numRacks := len(racks)
	list := RackAlternated(brokers)
	n := len(list)
	shift := p.ReplicaShift
	out := make([][]int32, 0, partitions)
	for pid := firstPartition; pid < firstPartition+partitions; pid++ {
		if pid > 0 && pid%n == 0 {
			shift++
		}
		first := (pid + p.StartIndex) % n
		leader := list[first]
		replicas := []int32{leader}
		racksWith := map[string]bool{rackOf[leader]: true}
		brokersWith := map[int32]bool{leader: true}
		k := 0
		for range rf - 1 {
			// Terminates: while some broker holds no replica, that broker
			// (or one on a rack without replicas) is reached within n steps.
			for {
				b := list[replicaIndex(first, shift*numRacks, k, n)]
				k++
				rack := rackOf[b]
				if (!racksWith[rack] || len(racksWith) == numRacks) && (!brokersWith[b] || len(brokersWith) == n) {
					replicas = append(replicas, b)
					racksWith[rack] = true
					brokersWith[b] = true
					break
				}
			}
		}
		out = append(out, replicas)
	}
	return out
}

// AddPartitions returns the assignment of the partitions added when a topic
// whose partitions are existing (element i is partition i's replicas) grows
// to total partitions, as Kafka 2.6 `AdminZkClient.createNewPartitionsAssignment`
// computes it: the replication factor of partition 0, a fixed start index at
// the first broker whose id is >= partition 0's preferred replica (0 if
// none), and partition ids continuing from the existing count. Element i of
// the result is partition len(existing)+i.
func AddPartitions(brokers []Broker, existing [][]int32, total int) ([][]int32, error) {
	if len(existing) == 0 || len(existing[0]) == 0 {
		return nil, fmt.Errorf("add partitions: partition 0 is missing from the existing assignment")
	}
	if total <= len(existing) {
		return nil, fmt.Errorf("add partitions: the number of partitions for a topic can only be increased: it has %d, %d would not be an increase", len(existing), total)
	}
	ids := make([]int32, len(brokers))
	for i, b := range brokers {
		ids[i] = b.ID
	}
	slices.Sort(ids)
	start := 0
	for i, id := range ids {
		if id >= existing[0][0] {
			start = i
			break
		}
	}
	return AssignReplicas(brokers, total-len(existing), len(existing[0]), FixedPlacement(start), int32(len(existing)))
}

// ValidateAssignment checks an explicit assignment (element i is partition
// i's replicas) as Kafka 2.6 `AdminZkClient.validateReplicaAssignment`
// does before writing it: no partition without replicas, no broker twice in
// a partition, every broker among brokers, and, when replicationFactor > 0,
// every partition with that many replicas. The error names the first
// partition at fault.
func ValidateAssignment(assignment [][]int32, replicationFactor int, brokers []Broker) error {
	for pid, rs := range assignment {
		if len(rs) == 0 {
			return fmt.Errorf("invalid replica assignment: cannot have replication factor of 0 for partition id %d", pid)
		}
		for i, r := range rs {
			if slices.Contains(rs[:i], r) {
				return fmt.Errorf("invalid replica assignment: duplicate brokers not allowed in replica assignment: %v for partition id %d", rs, pid)
			}
			if !slices.ContainsFunc(brokers, func(b Broker) bool { return b.ID == r }) {
				return fmt.Errorf("invalid replica assignment: some brokers specified for partition id %d are not available: %v", pid, rs)
			}
		}
	}
	if replicationFactor <= 0 {
		return nil
	}
	// Kafka checks the factor only once every partition has passed the
	// checks above.
	for pid, rs := range assignment {
		if len(rs) != replicationFactor {
			return fmt.Errorf("invalid replica assignment: inconsistent replication factor between partitions, partition 0 has %d while partition %d has %d", replicationFactor, pid, len(rs))
		}
	}
	return nil
}

package assign_test

import (
	"fmt"

	"github.com/kzsim/kzsim/nodes/kafka/consumer/assign"
)

// Two consumers with two streams each over five partitions, the example of
// Kafka's RangeAssignor scaladoc.
func ExampleRange() {
	members := []assign.Member{
		{ID: "C2", Streams: map[string]int{"t": 2}},
		{ID: "C1", Streams: map[string]int{"t": 2}},
	}
	a, err := assign.Range(members, map[string][]int32{"t": {0, 1, 2, 3, 4}})
	if err != nil {
		panic(err)
	}
	for _, tp := range a.Partitions() {
		fmt.Println(tp, "->", a[tp])
	}
	fmt.Println("C2 owns", a.Of("C2"))
	// Output:
	// [t,0] -> C1-0
	// [t,1] -> C1-0
	// [t,2] -> C1-1
	// [t,3] -> C2-0
	// [t,4] -> C2-1
	// C2 owns [[t,3] [t,4]]
}

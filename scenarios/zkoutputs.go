package scenarios

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/kzsim/kzsim/fakezk"
)

// dumpNode is one znode of a ZooKeeper dump.
type dumpNode struct {
	Data           *string `json:"data,omitempty"`
	DataB64        *string `json:"data_b64,omitempty"`
	EphemeralOwner int64   `json:"ephemeral_owner"`
	Version        int32   `json:"version"`
}

// writeZKDump writes srv's tree as one JSON object, path to node, in path
// order, one node a line:
//
//	{"/": {"data": "", "ephemeral_owner": 0, "version": 0}, ...}
//
// Data that is not UTF-8 goes in data_b64 instead of data. (fakezk is
// gaining its own dump writer; this one is meant to give way to it.)
func writeZKDump(w io.Writer, srv *fakezk.Server) error {
	bw := bufio.NewWriter(w)
	first := true
	var err error
	srv.Tree().Walk(func(path string, data []byte, st fakezk.Stat) bool {
		n := dumpNode{EphemeralOwner: st.EphemeralOwner, Version: st.Version}
		if utf8.Valid(data) {
			s := string(data)
			n.Data = &s
		} else {
			s := base64.StdEncoding.EncodeToString(data)
			n.DataB64 = &s
		}
		k, _ := json.Marshal(path)
		v, _ := json.Marshal(n)
		sep := ",\n"
		if first {
			sep, first = "{\n", false
		}
		_, err = fmt.Fprintf(bw, "%s%s: %s", sep, k, v)
		return err == nil
	})
	if err == nil {
		_, err = bw.WriteString("\n}\n")
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("writing the ZooKeeper dump: %w", err)
	}
	return nil
}

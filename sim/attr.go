package sim

import (
	"fmt"
	"strconv"
	"strings"
)

// AttrKind is the type of an attribute's value. It is part of the trace
// hash: Int("n", 1) and Hex("n", 1) are different records.
type AttrKind uint8

// Attribute kinds.
const (
	// AttrInt is a signed integer.
	AttrInt AttrKind = iota + 1
	// AttrStr is a string.
	AttrStr
	// AttrBool is true or false (Num 1 or 0).
	AttrBool
	// AttrProc is a process id; JSON adds its name as "<key>_name".
	AttrProc
	// AttrConn is a connection id.
	AttrConn
	// AttrHex is an identifier shown in hexadecimal (0x…): session ids,
	// zxids. JSON writes it as a string, so ids above 2^53 survive readers
	// that parse numbers as doubles.
	AttrHex
	// AttrDur is a duration; JSON writes it in nanoseconds as "<key>_ns".
	AttrDur
	attrKinds // one past the last kind
)

// String names the kind: "int", "string", "bool", "process", "connection",
// "hex" or "duration".
func (k AttrKind) String() string {
	switch k {
	case AttrInt:
		return "int"
	case AttrStr:
		return "string"
	case AttrBool:
		return "bool"
	case AttrProc:
		return "process"
	case AttrConn:
		return "connection"
	case AttrHex:
		return "hex"
	case AttrDur:
		return "duration"
	}
	return fmt.Sprintf("attrkind(%d)", uint8(k))
}

// Attr is one typed field of a trace record. Build it with Int, Str, Bool,
// Proc, Connection, Hex or Dur; Key should be a constant, lower_snake_case
// and must not be one of the record's own fields (step, t_ns, kind, proc,
// proc_name, peer, peer_name, conn, label).
type Attr struct {
	Key  string
	Kind AttrKind
	// Num is the value of every kind but AttrStr (bools are 0 or 1,
	// durations are nanoseconds).
	Num int64
	// Str is the value of an AttrStr; for an AttrProc in a record handed to
	// a sink, the process's name (names are not hashed).
	Str string
}

// Integer is any integer type an Int or Hex attribute takes.
type Integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// Int returns an integer attribute.
func Int[T Integer](key string, v T) Attr { return Attr{Key: key, Kind: AttrInt, Num: int64(v)} }

// Str returns a string attribute.
func Str(key, v string) Attr { return Attr{Key: key, Kind: AttrStr, Str: v} }

// Bool returns a boolean attribute.
func Bool(key string, v bool) Attr {
	a := Attr{Key: key, Kind: AttrBool}
	if v {
		a.Num = 1
	}
	return a
}

// Proc returns an attribute naming a process.
func Proc(key string, p ProcID) Attr { return Attr{Key: key, Kind: AttrProc, Num: int64(p)} }

// Connection returns an attribute naming a connection.
func Connection(key string, c ConnID) Attr { return Attr{Key: key, Kind: AttrConn, Num: int64(c)} }

// Hex returns an identifier attribute rendered in hexadecimal: session ids,
// zxids.
func Hex[T Integer](key string, v T) Attr { return Attr{Key: key, Kind: AttrHex, Num: int64(v)} }

// Dur returns a duration attribute.
func Dur(key string, d Duration) Attr { return Attr{Key: key, Kind: AttrDur, Num: int64(d)} }

// reservedKey reports whether key names one of a record's own fields, or a
// field derived from them, which an attribute may not shadow.
func reservedKey(key string) bool {
	switch key {
	case "", "step", "t_ns", "kind", "proc", "proc_name", "peer", "peer_name", "conn", "label", "detail":
		return true
	}
	return false
}

// checkAttrs panics on attributes a programmer got wrong.
func checkAttrs(attrs []Attr) {
	if len(attrs) > MaxAttrs {
		panic(fmt.Sprintf("sim: a trace record takes at most %d attributes, got %d", MaxAttrs, len(attrs)))
	}
	for i := range attrs {
		a := &attrs[i]
		if reservedKey(a.Key) {
			panic(fmt.Sprintf("sim: attribute key %q is empty or a record field", a.Key))
		}
		if a.Kind == 0 || a.Kind >= attrKinds {
			panic(fmt.Sprintf("sim: attribute %q has no valid kind (%d): build it with sim.Int, sim.Str, …", a.Key, a.Kind))
		}
	}
}

// appendHex appends v as 0x… (-0x… when negative).
func appendHex(b []byte, v int64) []byte {
	u := uint64(v)
	if v < 0 {
		b = append(b, '-')
		u = -u
	}
	b = append(b, '0', 'x')
	return strconv.AppendUint(b, u, 16)
}

// appendValue appends a's value as people read it.
func (a *Attr) appendValue(b []byte) []byte {
	switch a.Kind {
	case AttrStr:
		if needsQuote(a.Str) {
			return strconv.AppendQuote(b, a.Str)
		}
		return append(b, a.Str...)
	case AttrBool:
		return strconv.AppendBool(b, a.Num != 0)
	case AttrProc:
		if a.Str != "" {
			return append(b, a.Str...)
		}
		return strconv.AppendInt(append(b, 'p'), a.Num, 10)
	case AttrConn:
		return strconv.AppendInt(append(b, 'c'), a.Num, 10)
	case AttrHex:
		return appendHex(b, a.Num)
	case AttrDur:
		return append(b, Duration(a.Num).String()...)
	}
	return strconv.AppendInt(b, a.Num, 10)
}

// needsQuote reports whether s would be ambiguous unquoted in key=value text.
func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	return strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == '"' || r == '=' || r == 0x7f || r == 0xfffd })
}

// appendText appends a as key=value.
func (a *Attr) appendText(b []byte) []byte {
	b = append(b, a.Key...)
	b = append(b, '=')
	return a.appendValue(b)
}

// String renders a as key=value.
func (a Attr) String() string { return string(a.appendText(nil)) }

package expr

import (
	"fmt"
	"iter"
	"math"
	"sort"
	"time"
)

// Object is an ordered dictionary with case-insensitive keys, the shape of Azure's
// variables, parameters and dependencies. The zero Object is not usable; call NewObject.
// An Object is not safe for concurrent mutation; once wrapped in a Value it must not change.
type Object struct {
	keys  []string
	vals  []Value
	index map[string]int // folded key -> position
}

// NewObject returns an empty object.
func NewObject() *Object { return &Object{index: map[string]int{}} }

// Set stores v under key. A key equal ignoring case to an existing one replaces its value
// in place and keeps the first spelling and position.
func (o *Object) Set(key string, v Value) {
	k := fold(key)
	if i, ok := o.index[k]; ok {
		o.vals[i] = v
		return
	}
	o.index[k] = len(o.keys)
	o.keys = append(o.keys, key)
	o.vals = append(o.vals, v)
}

// Get looks key up ignoring case.
func (o *Object) Get(key string) (Value, bool) {
	return o.getFolded(fold(key))
}

func (o *Object) getFolded(k string) (Value, bool) {
	if o == nil {
		return Value{}, false
	}
	i, ok := o.index[k]
	if !ok {
		return Value{}, false
	}
	return o.vals[i], true
}

// Len returns the number of keys.
func (o *Object) Len() int {
	if o == nil {
		return 0
	}
	return len(o.keys)
}

// Keys returns the keys in insertion order. The slice must not be modified.
func (o *Object) Keys() []string {
	if o == nil {
		return nil
	}
	return o.keys
}

// All iterates over the pairs in insertion order.
func (o *Object) All() iter.Seq2[string, Value] {
	return func(yield func(string, Value) bool) {
		if o == nil {
			return
		}
		for i, k := range o.keys {
			if !yield(k, o.vals[i]) {
				return
			}
		}
	}
}

// FromGo converts plain Go data, as decoded from YAML or JSON, to a Value: nil, bool,
// integers and floats, string, Version, time.Time, Value, *Object, []any, []string,
// []Value, map[string]any and map[string]string. Go maps are unordered, so their keys are
// sorted; build an *Object to keep a file's order.
func FromGo(x any) (Value, error) {
	switch t := x.(type) {
	case nil:
		return Null(), nil
	case Value:
		return t, nil
	case bool:
		return Bool(t), nil
	case string:
		return String(t), nil
	case int:
		return Number(float64(t)), nil
	case int8:
		return Number(float64(t)), nil
	case int16:
		return Number(float64(t)), nil
	case int32:
		return Number(float64(t)), nil
	case int64:
		return Number(float64(t)), nil
	case uint:
		return Number(float64(t)), nil
	case uint8:
		return Number(float64(t)), nil
	case uint16:
		return Number(float64(t)), nil
	case uint32:
		return Number(float64(t)), nil
	case uint64:
		return Number(float64(t)), nil
	case float32:
		return Number(float64(t)), nil
	case float64:
		if math.IsNaN(t) {
			return Value{}, fmt.Errorf("expr: cannot convert NaN to a value")
		}
		return Number(t), nil
	case Version:
		return VersionValue(t), nil
	case time.Time:
		return DateTime(t), nil
	case *Object:
		return ObjectValue(t), nil
	case []Value:
		return Array(t...), nil
	case []string:
		items := make([]Value, len(t))
		for i, s := range t {
			items[i] = String(s)
		}
		return Array(items...), nil
	case []any:
		items := make([]Value, len(t))
		for i, e := range t {
			v, err := FromGo(e)
			if err != nil {
				return Value{}, err
			}
			items[i] = v
		}
		return Array(items...), nil
	case map[string]string:
		o := NewObject()
		for _, k := range sortedKeys(t) {
			o.Set(k, String(t[k]))
		}
		return ObjectValue(o), nil
	case map[string]any:
		o := NewObject()
		for _, k := range sortedKeys(t) {
			v, err := FromGo(t[k])
			if err != nil {
				return Value{}, err
			}
			o.Set(k, v)
		}
		return ObjectValue(o), nil
	default:
		return Value{}, fmt.Errorf("expr: cannot convert %T to a value", x)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

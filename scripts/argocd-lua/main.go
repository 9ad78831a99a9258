// Command argocd-lua runs Argo CD resource health scripts the way Argo CD's controller does (util/lua in
// argoproj/argo-cd): gopher-lua with the standard libraries skipped except package, base and table, the resource
// decoded into the global `obj` like Argo CD's decodeValue, a one-second deadline, and the returned table encoded with
// gopher-json and read as a health status (an unknown status code becomes Unknown, as Argo CD reports it).
// Argo CD also opens a reduced os library; the scripts tested here do not use it, so it is left out.
//
// Input on stdin: a JSON array of {"script": "...", "obj": {...}}. Output on stdout: a JSON array of
// {"status": "...", "message": "..."} or {"error": "..."}, in the same order.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
	luajson "layeh.com/gopher-json"
)

type request struct {
	Script string         `json:"script"`
	Obj    map[string]any `json:"obj"`
}

type result struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

var validStatus = map[string]bool{"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true}

func main() {
	var requests []request
	if err := json.NewDecoder(os.Stdin).Decode(&requests); err != nil {
		fmt.Fprintln(os.Stderr, "argocd-lua: reading requests:", err)
		os.Exit(2)
	}
	results := make([]result, len(requests))
	for i, r := range requests {
		results[i] = health(r.Script, r.Obj)
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "argocd-lua: writing results:", err)
		os.Exit(2)
	}
}

func health(script string, obj map[string]any) result {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return result{Error: err.Error()}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", decodeValue(l, obj))
	if err := l.DoString(script); err != nil {
		return result{Error: err.Error()}
	}
	returned := l.Get(-1)
	if returned.Type() != lua.LTTable {
		return result{Error: fmt.Sprintf("expect table output from Lua script, not %s", returned.Type())}
	}
	encoded, err := luajson.Encode(returned)
	if err != nil {
		return result{Error: err.Error()}
	}
	var status result
	if err := json.Unmarshal(encoded, &status); err != nil {
		return result{Error: err.Error()}
	}
	if !validStatus[status.Status] {
		return result{Status: "Unknown", Message: "Lua returned an invalid health status"}
	}
	return status
}

// decodeValue converts a decoded JSON value into Lua values as Argo CD's util/lua decodeValue does.
func decodeValue(l *lua.LState, value any) lua.LValue {
	switch converted := value.(type) {
	case bool:
		return lua.LBool(converted)
	case float64:
		return lua.LNumber(converted)
	case string:
		return lua.LString(converted)
	case []any:
		arr := l.CreateTable(len(converted), 0)
		for _, item := range converted {
			arr.Append(decodeValue(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(converted))
		for key, item := range converted {
			tbl.RawSetH(lua.LString(key), decodeValue(l, item))
		}
		return tbl
	}
	return lua.LNil
}

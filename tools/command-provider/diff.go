package main

import (
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// diffInputs compares the input properties of the old state with the new
// inputs, as the real provider (pulumi-go-provider's default diff) does:
// a change to triggers replaces the resource, any other change updates it in
// place. Outputs (stdout, stderr) are not compared. Keys listed in
// ignoreChanges keep their old value.
func diffInputs(olds, news resource.PropertyMap, ignoreChanges []string) *pulumirpc.DiffResponse {
	oldInputs := resource.PropertyMap{}
	for _, k := range inputKeys {
		if v, ok := olds[k]; ok {
			oldInputs[k] = v
		}
	}
	news = news.Copy()
	for _, k := range ignoreChanges {
		if v, ok := olds[resource.PropertyKey(k)]; ok {
			news[resource.PropertyKey(k)] = v
		}
	}

	objDiff := oldInputs.Diff(news)
	resp := &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_NONE,
		HasDetailedDiff: true,
		DetailedDiff:    map[string]*pulumirpc.PropertyDiff{},
	}
	if !objDiff.AnyChanges() {
		return resp
	}
	resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	for _, k := range objDiff.ChangedKeys() {
		resp.Diffs = append(resp.Diffs, string(k))
		if k == "triggers" {
			resp.Replaces = append(resp.Replaces, string(k))
		}
	}
	for path, d := range plugin.NewDetailedDiffFromObjectDiff(objDiff, false) {
		kind := d.Kind
		if path == "triggers" || strings.HasPrefix(path, "triggers[") {
			kind = kind.AsReplace()
		}
		resp.DetailedDiff[path] = &pulumirpc.PropertyDiff{Kind: rpcDiffKind(kind)}
	}
	return resp
}

func rpcDiffKind(k plugin.DiffKind) pulumirpc.PropertyDiff_Kind {
	switch k {
	case plugin.DiffAdd:
		return pulumirpc.PropertyDiff_ADD
	case plugin.DiffAddReplace:
		return pulumirpc.PropertyDiff_ADD_REPLACE
	case plugin.DiffDelete:
		return pulumirpc.PropertyDiff_DELETE
	case plugin.DiffDeleteReplace:
		return pulumirpc.PropertyDiff_DELETE_REPLACE
	case plugin.DiffUpdateReplace:
		return pulumirpc.PropertyDiff_UPDATE_REPLACE
	default:
		return pulumirpc.PropertyDiff_UPDATE
	}
}

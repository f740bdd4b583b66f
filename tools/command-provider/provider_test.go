package main

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

const testURN = "urn:pulumi:dev::proj::command:remote:Command::install"

func str(s string) resource.PropertyValue { return resource.NewStringProperty(s) }

func baseInputs() resource.PropertyMap {
	return resource.PropertyMap{
		"connection": resource.MakeSecret(resource.NewObjectProperty(resource.PropertyMap{
			"host": str("10.0.0.5"), "port": resource.NewNumberProperty(22), "user": str("deploy"),
			"privateKey": str("KEY"), "dialErrorLimit": resource.NewNumberProperty(5),
			"perDialTimeout": resource.NewNumberProperty(10),
		})),
		"create":                 str("install.sh"),
		"update":                 str("install.sh"),
		"delete":                 str("remove.sh"),
		"stdin":                  resource.MakeSecret(str("payload")),
		"logging":                str("stdoutAndStderr"),
		"addPreviousOutputInEnv": resource.NewBoolProperty(false),
	}
}

func state(inputs resource.PropertyMap) resource.PropertyMap {
	return withOutputs(inputs, "done", "", false)
}

func TestDiff(t *testing.T) {
	type kinds = map[string]pulumirpc.PropertyDiff_Kind
	tests := []struct {
		name     string
		olds     func(resource.PropertyMap) // edits the old state
		news     func(resource.PropertyMap) // edits the new inputs
		ignore   []string
		want     kinds
		replaces []string
	}{
		{name: "no change"},
		{name: "outputs are not compared", olds: func(m resource.PropertyMap) { m["stdout"] = str("other") }},
		{name: "create changed is an update", news: func(m resource.PropertyMap) { m["create"] = str("install.sh v2") },
			want: kinds{"create": pulumirpc.PropertyDiff_UPDATE}},
		{name: "update removed", news: func(m resource.PropertyMap) { delete(m, "update") },
			want: kinds{"update": pulumirpc.PropertyDiff_DELETE}},
		{name: "stdin added", olds: func(m resource.PropertyMap) { delete(m, "stdin") },
			want: kinds{"stdin": pulumirpc.PropertyDiff_ADD}},
		{name: "secret connection changed: one coarse update, no value shown",
			news: func(m resource.PropertyMap) {
				c := plain(m["connection"]).ObjectValue().Copy()
				c["host"] = str("10.0.0.6")
				m["connection"] = resource.MakeSecret(resource.NewObjectProperty(c))
			},
			want: kinds{"connection": pulumirpc.PropertyDiff_UPDATE}},
		{name: "unknown create is an update", news: func(m resource.PropertyMap) {
			m["create"] = resource.MakeComputed(str(""))
		}, want: kinds{"create": pulumirpc.PropertyDiff_UPDATE}},
		{name: "ignoreChanges keeps the old value", news: func(m resource.PropertyMap) { m["create"] = str("x") },
			ignore: []string{"create"}},
		{name: "triggers added replaces",
			news: func(m resource.PropertyMap) {
				m["triggers"] = resource.NewArrayProperty([]resource.PropertyValue{str("a")})
			},
			want:     kinds{"triggers": pulumirpc.PropertyDiff_ADD_REPLACE},
			replaces: []string{"triggers"}},
		{name: "trigger element changed replaces",
			olds: func(m resource.PropertyMap) {
				m["triggers"] = resource.NewArrayProperty([]resource.PropertyValue{str("a"), str("b")})
			},
			news: func(m resource.PropertyMap) {
				m["triggers"] = resource.NewArrayProperty([]resource.PropertyValue{str("a"), str("c")})
				m["create"] = str("install.sh v2")
			},
			want: kinds{
				"triggers[1]": pulumirpc.PropertyDiff_UPDATE_REPLACE,
				"create":      pulumirpc.PropertyDiff_UPDATE,
			},
			replaces: []string{"triggers"}},
		{name: "same triggers: no change",
			olds: func(m resource.PropertyMap) {
				m["triggers"] = resource.NewArrayProperty([]resource.PropertyValue{str("a")})
			},
			news: func(m resource.PropertyMap) {
				m["triggers"] = resource.NewArrayProperty([]resource.PropertyValue{str("a")})
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			olds, news := state(baseInputs()), baseInputs()
			if tt.olds != nil {
				tt.olds(olds)
			}
			if tt.news != nil {
				tt.news(news)
			}
			resp := diffInputs(olds, news, tt.ignore)
			got := kinds{}
			for k, d := range resp.GetDetailedDiff() {
				got[k] = d.GetKind()
			}
			if len(got) != len(tt.want) {
				t.Fatalf("detailed diff %v, want %v", got, tt.want)
			}
			for k, want := range tt.want {
				if got[k] != want {
					t.Errorf("detailed diff %v, want %v", got, tt.want)
				}
			}
			wantChanges := pulumirpc.DiffResponse_DIFF_NONE
			if len(tt.want) > 0 {
				wantChanges = pulumirpc.DiffResponse_DIFF_SOME
			}
			if resp.GetChanges() != wantChanges || !resp.GetHasDetailedDiff() {
				t.Errorf("changes %v (detailed %v), want %v", resp.GetChanges(), resp.GetHasDetailedDiff(), wantChanges)
			}
			// Diffs lists the changed top-level keys of the detailed diff.
			var wantDiffs []string
			for path := range tt.want {
				if k, _, _ := strings.Cut(path, "["); !slices.Contains(wantDiffs, k) {
					wantDiffs = append(wantDiffs, k)
				}
			}
			slices.Sort(wantDiffs)
			if gotDiffs := slices.Sorted(slices.Values(resp.GetDiffs())); !slices.Equal(gotDiffs, wantDiffs) {
				t.Errorf("diffs %v, want %v", resp.GetDiffs(), wantDiffs)
			}
			if !slices.Equal(resp.GetReplaces(), tt.replaces) {
				t.Errorf("replaces %v, want %v", resp.GetReplaces(), tt.replaces)
			}
			if resp.GetDeleteBeforeReplace() {
				t.Error("deleteBeforeReplace set: the real provider leaves it to the resource option")
			}
		})
	}
}

func TestCheckDefaultsAndSecrets(t *testing.T) {
	news := resource.PropertyMap{
		"connection": resource.NewObjectProperty(resource.PropertyMap{
			"host": str("10.0.0.5"), "privateKey": resource.MakeSecret(str("KEY")),
			"proxy": resource.NewObjectProperty(resource.PropertyMap{"host": str("bastion"), "privateKey": str("KEY")}),
		}),
		"create": str("true"),
	}
	out, failures := checkInputs(news)
	if len(failures) > 0 {
		t.Fatalf("failures: %v", failures)
	}
	conn := out["connection"]
	if !conn.IsSecret() {
		t.Fatal("connection is not secret")
	}
	c := conn.SecretValue().Element.ObjectValue()
	if !c["privateKey"].IsSecret() {
		t.Error("nested secret privateKey lost")
	}
	for obj, m := range map[string]resource.PropertyMap{"connection": c, "proxy": c["proxy"].ObjectValue()} {
		for k, want := range connectionDefaults {
			if !m[k].DeepEquals(want) {
				t.Errorf("%s.%s = %v, want default %v", obj, k, m[k], want)
			}
		}
	}
	if !out["addPreviousOutputInEnv"].DeepEquals(resource.NewBoolProperty(true)) {
		t.Errorf("addPreviousOutputInEnv = %v, want default true", out["addPreviousOutputInEnv"])
	}

	// Values the program has not resolved yet (previews) pass as they are.
	out, failures = checkInputs(resource.PropertyMap{"connection": resource.MakeComputed(str("")), "create": resource.MakeComputed(str(""))})
	if len(failures) > 0 || !plain(out["connection"]).IsComputed() {
		t.Errorf("unknown inputs: failures %v, connection %v", failures, out["connection"])
	}
}

func TestCheckRejectsWhatTheStandInLacks(t *testing.T) {
	news := resource.PropertyMap{
		"connection": resource.NewObjectProperty(resource.PropertyMap{
			"host": str("h"), "password": str("pw"), "port": str("22"),
			"proxy": resource.NewObjectProperty(resource.PropertyMap{"host": str("b"), "agentSocketPath": str("/s")}),
		}),
		"environment": resource.NewObjectProperty(resource.PropertyMap{"A": str("1")}),
		"logging":     str("all"),
		"interpreter": resource.NewArrayProperty(nil),
	}
	_, failures := checkInputs(news)
	var got []string
	for _, f := range failures {
		got = append(got, f.GetProperty())
	}
	want := []string{
		"connection.password", "connection.port", "connection.privateKey", "connection.proxy.agentSocketPath",
		"connection.proxy.privateKey", "environment", "interpreter", "logging",
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("failures on %v, want %v", got, want)
	}
	if _, failures := checkInputs(resource.PropertyMap{"create": str("x")}); len(failures) != 1 || failures[0].GetProperty() != "connection" {
		t.Errorf("missing connection: %v", failures)
	}
}

// recordingLog keeps what the provider sends to the engine.
type recordingLog struct {
	mu       sync.Mutex
	messages []string
}

func (r *recordingLog) add(prefix, msg string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.messages = append(r.messages, prefix+msg)
	return nil
}

func (r *recordingLog) Log(_ context.Context, sev diag.Severity, _ resource.URN, msg string) error {
	return r.add(string(sev)+": ", msg)
}

func (r *recordingLog) LogStatus(_ context.Context, sev diag.Severity, _ resource.URN, msg string) error {
	return r.add("status "+string(sev)+": ", msg)
}

func (r *recordingLog) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.messages, "\n")
}

func mustMarshal(t *testing.T, m resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustUnmarshal(t *testing.T, s *structpb.Struct) resource.PropertyMap {
	t.Helper()
	m, err := unmarshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// serverInputs are the program's inputs for a command on srv, before Check.
func serverInputs(srv *testSSHServer, create string) resource.PropertyMap {
	return resource.PropertyMap{
		"connection": resource.MakeSecret(resource.NewObjectProperty(resource.PropertyMap{
			"host": str(srv.addr), "port": resource.NewNumberProperty(float64(srv.port)), "user": str("deploy"),
			"privateKey": str(srv.clientKey), "hostKey": str(srv.hostKey),
			"dialErrorLimit": resource.NewNumberProperty(0), "perDialTimeout": resource.NewNumberProperty(5),
		})),
		"create":                 str(create),
		"delete":                 str("echo deleting; cat"),
		"stdin":                  resource.MakeSecret(str("the secret payload\n")),
		"logging":                str("stdoutAndStderr"),
		"addPreviousOutputInEnv": resource.NewBoolProperty(false),
	}
}

func check(t *testing.T, p *commandProvider, inputs resource.PropertyMap) *structpb.Struct {
	t.Helper()
	resp, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: testURN, News: mustMarshal(t, inputs)})
	if err != nil || len(resp.GetFailures()) > 0 {
		t.Fatalf("Check: %v %v", err, resp.GetFailures())
	}
	return resp.GetInputs()
}

// TestLifecycle drives the gRPC methods as the engine does, over SSH to an
// in-process server: preview, create, no-op diff, update, delete.
func TestLifecycle(t *testing.T) {
	srv := startSSHServer(t)
	log := &recordingLog{}
	p := newProvider(log, "1.2.1")
	ctx := context.Background()
	inputs := check(t, p, serverInputs(srv, "echo out; echo err >&2; cat"))

	preview, err := p.Create(ctx, &pulumirpc.CreateRequest{Urn: testURN, Properties: inputs, Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	outs := mustUnmarshal(t, preview.GetProperties())
	if !outs["stdout"].IsComputed() || !outs["stderr"].IsComputed() || !outs["stdin"].IsSecret() {
		t.Errorf("preview outputs: stdout %v, stderr %v, stdin secret %v", outs["stdout"], outs["stderr"], outs["stdin"].IsSecret())
	}
	if n := srv.connections.Load(); n != 0 {
		t.Fatalf("preview opened %d SSH connections", n)
	}

	created, err := p.Create(ctx, &pulumirpc.CreateRequest{Urn: testURN, Properties: inputs})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.GetId(), "install") || len(created.GetId()) != len("install")+8 {
		t.Errorf("id %q, want install + 8 hex digits", created.GetId())
	}
	outs = mustUnmarshal(t, created.GetProperties())
	if got := outs["stdout"]; !got.DeepEquals(str("out\nthe secret payload")) {
		t.Errorf("stdout %v: stdin did not arrive", got)
	}
	if got := outs["stderr"]; !got.DeepEquals(str("err")) {
		t.Errorf("stderr %v", got)
	}
	// Secret inputs stay secret; stdout/stderr are secret only when the
	// program asks (additionalSecretOutputs, applied by the engine).
	if !outs["stdin"].IsSecret() || !outs["connection"].IsSecret() || outs["stdout"].IsSecret() {
		t.Errorf("secretness: stdin %v, connection %v, stdout %v",
			outs["stdin"].IsSecret(), outs["connection"].IsSecret(), outs["stdout"].IsSecret())
	}
	if !strings.Contains(log.all(), "status info: out") || !strings.Contains(log.all(), "status info: err") {
		t.Errorf("output not streamed to the engine:\n%s", log.all())
	}

	diff, err := p.Diff(ctx, &pulumirpc.DiffRequest{Urn: testURN, Olds: created.GetProperties(), News: inputs})
	if err != nil || diff.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("second run diff: %v %v", diff, err)
	}

	// Unchanged inputs: the update preview keeps the known outputs.
	same, err := p.Update(ctx, &pulumirpc.UpdateRequest{Urn: testURN, Olds: created.GetProperties(), News: inputs, Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustUnmarshal(t, same.GetProperties()); !got["stdout"].DeepEquals(str("out\nthe secret payload")) ||
		!got["stderr"].DeepEquals(str("err")) {
		t.Errorf("no-change update preview: stdout %v, stderr %v, want the old outputs", got["stdout"], got["stderr"])
	}

	v2 := serverInputs(srv, "echo v2")
	v2["update"] = str("echo updating; cat")
	v2["addPreviousOutputInEnv"] = resource.NewBoolProperty(true)
	newInputs := check(t, p, v2)
	updPreview, err := p.Update(ctx, &pulumirpc.UpdateRequest{Urn: testURN, Olds: created.GetProperties(), News: newInputs, Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	if !mustUnmarshal(t, updPreview.GetProperties())["stdout"].IsComputed() {
		t.Error("update preview: stdout should be unknown")
	}
	if n := srv.connections.Load(); n != 1 {
		t.Fatalf("%d connections after create and an update preview, want 1", n)
	}
	// Each later step gets a fresh log, so that it shows only that step's output.
	updateLog := &recordingLog{}
	p.engine = updateLog
	updated, err := p.Update(ctx, &pulumirpc.UpdateRequest{Urn: testURN, Olds: created.GetProperties(), News: newInputs})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustUnmarshal(t, updated.GetProperties())["stdout"]; !got.DeepEquals(str("updating\nthe secret payload")) {
		t.Errorf("update should run the update command: stdout %v", got)
	}
	// addPreviousOutputInEnv: the test server refuses env requests, as an
	// sshd without AcceptEnv does, so each previous output is a warning.
	for _, name := range []string{"PULUMI_COMMAND_STDOUT", "PULUMI_COMMAND_STDERR"} {
		if !strings.Contains(updateLog.all(), "warning: Unable to set '"+name+"'.") {
			t.Errorf("no AcceptEnv warning for %s:\n%s", name, updateLog.all())
		}
	}

	fallbackLog := &recordingLog{}
	p.engine = fallbackLog
	v3 := check(t, p, serverInputs(srv, "echo v3"))
	fellBack, err := p.Update(ctx, &pulumirpc.UpdateRequest{Urn: testURN, Olds: updated.GetProperties(), News: v3})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustUnmarshal(t, fellBack.GetProperties())["stdout"]; !got.DeepEquals(str("v3")) {
		t.Errorf("update without an update command should run create: stdout %v", got)
	}
	if strings.Contains(fallbackLog.all(), "Unable to set") {
		t.Errorf("addPreviousOutputInEnv false, yet previous outputs were passed:\n%s", fallbackLog.all())
	}

	deleteLog := &recordingLog{}
	p.engine = deleteLog
	if _, err := p.Delete(ctx, &pulumirpc.DeleteRequest{Urn: testURN, Properties: fellBack.GetProperties()}); err != nil {
		t.Fatal(err)
	}
	want := []string{"echo out; echo err >&2; cat", "echo updating; cat", "echo v3", "echo deleting; cat"}
	if got := srv.ran(); !slices.Equal(got, want) {
		t.Errorf("commands run %q, want %q", got, want)
	}
	if !strings.Contains(deleteLog.all(), "status info: the secret payload") {
		t.Errorf("delete did not get the stored stdin:\n%s", deleteLog.all())
	}
}

// TestCancel: the engine's Cancel ends a running command.
func TestCancel(t *testing.T) {
	srv := startSSHServer(t)
	log := &recordingLog{}
	p := newProvider(log, "1.2.1")
	// The loop ends on its own once the closed connection breaks its stdout.
	in := check(t, p, serverInputs(srv, "echo started; while sleep 0.1; do echo .; done"))
	errc := make(chan error, 1)
	go func() {
		_, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: testURN, Properties: in})
		errc <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log.all(), "status info: started") {
		if time.Now().After(deadline) {
			t.Fatalf("command did not start:\n%s", log.all())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := p.Cancel(context.Background(), &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Error("cancelled create succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Cancel did not end the running command")
	}
}

func TestCommandFailure(t *testing.T) {
	srv := startSSHServer(t)
	log := &recordingLog{}
	p := newProvider(log, "1.2.1")
	in := serverInputs(srv, "echo partial; echo broken >&2; exit 3")
	in["logging"] = str("none")
	_, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: testURN, Properties: check(t, p, in)})
	// stdout and stderr arrive on separate channels: their order may vary.
	prefix := "Process exited with status 3: running \"echo partial; echo broken >&2; exit 3\":\n"
	if err == nil || !strings.HasPrefix(err.Error(), prefix) ||
		!strings.Contains(err.Error(), "partial\n") || !strings.Contains(err.Error(), "broken\n") {
		t.Errorf("error %q, want %q and both output lines", err, prefix)
	}
	if got := log.all(); got != "" {
		t.Errorf("logging none, yet the engine got:\n%s", got)
	}

	in["create"] = resource.MakeSecret(str("exit 1"))
	_, err = p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: testURN, Properties: check(t, p, in)})
	if err == nil || strings.Contains(err.Error(), "exit 1") || !strings.Contains(err.Error(), "[secret]") {
		t.Errorf("secret command shown in error: %v", err)
	}
}

func TestWrongHostKey(t *testing.T) {
	srv, other := startSSHServer(t), startSSHServer(t)
	p := newProvider(&recordingLog{}, "1.2.1")
	in := serverInputs(srv, "true")
	conn := plain(in["connection"]).ObjectValue()
	conn["hostKey"] = str(other.hostKey)
	conn["dialErrorLimit"] = resource.NewNumberProperty(1)
	_, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: testURN, Properties: check(t, p, in)})
	if err == nil || !strings.Contains(err.Error(), "after 2 failed attempts") || !strings.Contains(err.Error(), "ssh: host key mismatch") {
		t.Fatalf("error %v, want host key mismatch after 2 attempts", err)
	}
	if len(srv.ran()) != 0 {
		t.Error("a command ran despite the wrong host key")
	}
}

func TestProxy(t *testing.T) {
	target, bastion := startSSHServer(t), startSSHServer(t)
	p := newProvider(&recordingLog{}, "1.2.1")
	in := serverInputs(target, "echo via bastion")
	conn := plain(in["connection"]).ObjectValue()
	proxy := resource.PropertyMap{
		"host": str(bastion.addr), "port": resource.NewNumberProperty(float64(bastion.port)), "user": str("jump"),
		"privateKey": str(bastion.clientKey), "hostKey": str(bastion.hostKey),
		"dialErrorLimit": resource.NewNumberProperty(0), "perDialTimeout": resource.NewNumberProperty(5),
	}
	conn["proxy"] = resource.NewObjectProperty(proxy)
	created, err := p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: testURN, Properties: check(t, p, in)})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustUnmarshal(t, created.GetProperties())["stdout"]; !got.DeepEquals(str("via bastion")) {
		t.Errorf("stdout %v", got)
	}
	if bastion.connections.Load() != 1 || target.connections.Load() != 1 || len(bastion.ran()) != 0 {
		t.Errorf("connections: bastion %d (ran %q), target %d",
			bastion.connections.Load(), bastion.ran(), target.connections.Load())
	}

	// The bastion's own host key is checked too.
	proxy["hostKey"] = str(target.hostKey)
	_, err = p.Create(context.Background(), &pulumirpc.CreateRequest{Urn: testURN, Properties: check(t, p, in)})
	if err == nil || !strings.HasPrefix(err.Error(), "proxy: after 1 failed attempts: ssh: handshake failed: ssh: host key mismatch") {
		t.Errorf("wrong bastion host key: %v", err)
	}
}

func TestUnsupportedType(t *testing.T) {
	p := newProvider(discardLog{}, "1.2.1")
	_, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: "urn:pulumi:dev::proj::command:local:Command::x"})
	if err == nil || !strings.Contains(err.Error(), "implements only command:remote:Command") {
		t.Errorf("error %v", err)
	}
}

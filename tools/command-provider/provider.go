package main

import (
	"context"
	_ "embed"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

const commandType = "command:remote:Command"

//go:embed schema.json
var schema string

// engineLog is the part of the SDK's HostClient the provider uses.
type engineLog interface {
	Log(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) error
	LogStatus(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) error
}

type discardLog struct{}

func (discardLog) Log(context.Context, diag.Severity, resource.URN, string) error       { return nil }
func (discardLog) LogStatus(context.Context, diag.Severity, resource.URN, string) error { return nil }

type commandProvider struct {
	pulumirpc.UnimplementedResourceProviderServer
	engine  engineLog
	version string
	// cancelled ends running commands when the engine calls Cancel.
	cancelled context.Context
	cancel    context.CancelFunc
}

func newProvider(engine engineLog, version string) *commandProvider {
	ctx, cancel := context.WithCancel(context.Background())
	return &commandProvider{engine: engine, version: version, cancelled: ctx, cancel: cancel}
}

// Secrets and unknowns cross the wire as such in both directions, so a secret
// input stays secret in the outputs.
var wire = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, SkipNulls: true}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	return plugin.UnmarshalProperties(s, wire)
}

func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, wire)
}

func checkType(urn string) error {
	if t := resource.URN(urn).Type(); t != commandType {
		return status.Errorf(codes.InvalidArgument,
			"the stand-in command provider implements only %s, not %s (see tools/command-provider/README.md)",
			commandType, t)
	}
	return nil
}

// propertiesOf decodes the properties of a request about a resource of the
// one type this provider implements.
func propertiesOf(urn string, s *structpb.Struct) (resource.PropertyMap, error) {
	if err := checkType(urn); err != nil {
		return nil, err
	}
	return unmarshal(s)
}

// oldsAndNews decodes the two property sets of a Diff or Update request.
func oldsAndNews(urn string, olds, news *structpb.Struct) (resource.PropertyMap, resource.PropertyMap, error) {
	o, err := propertiesOf(urn, olds)
	if err != nil {
		return nil, nil, err
	}
	n, err := unmarshal(news)
	return o, n, err
}

// logger returns the logf for one resource's operation.
func (p *commandProvider) logger(ctx context.Context, urn string) logf {
	return func(sev diag.Severity, ephemeral bool, msg string) {
		log := p.engine.Log
		if ephemeral {
			log = p.engine.LogStatus
		}
		// A lost log line must not fail the deployment.
		_ = log(ctx, sev, resource.URN(urn), msg)
	}
}

// operation is a context ended by the request's or the provider's cancellation.
func (p *commandProvider) operation(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(p.cancelled, cancel)
	return ctx, func() { stop(); cancel() }
}

func (p *commandProvider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: p.version}, nil
}

func (p *commandProvider) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: schema}, nil
}

// The provider has no configuration of its own (the real one has none
// either), so config is accepted as given.
func (p *commandProvider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *commandProvider) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	changes := pulumirpc.DiffResponse_DIFF_NONE
	if olds.Diff(news).AnyChanges() {
		changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return &pulumirpc.DiffResponse{Changes: changes}, nil
}

func (p *commandProvider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	// SupportsPreview: the engine calls Create/Update with preview set, which
	// return without connecting, instead of guessing outputs itself.
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true}, nil
}

func (p *commandProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	news, err := propertiesOf(req.GetUrn(), req.GetNews())
	if err != nil {
		return nil, err
	}
	inputs, failures := checkInputs(news)
	s, err := marshal(inputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: s, Failures: failures}, nil
}

func (p *commandProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, news, err := oldsAndNews(req.GetUrn(), req.GetOlds(), req.GetNews())
	if err != nil {
		return nil, err
	}
	return diffInputs(olds, news, req.GetIgnoreChanges()), nil
}

// withOutputs returns the inputs plus stdout and stderr, which are unknown
// while previewing.
func withOutputs(inputs resource.PropertyMap, stdout, stderr string, unknown bool) resource.PropertyMap {
	outs := inputs.Copy()
	outs["stdout"], outs["stderr"] = resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)
	if unknown {
		outs["stdout"], outs["stderr"] = resource.MakeComputed(outs["stdout"]), resource.MakeComputed(outs["stderr"])
	}
	return outs
}

func (p *commandProvider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	inputs, err := propertiesOf(req.GetUrn(), req.GetProperties())
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		s, err := marshal(withOutputs(inputs, "", "", true))
		return &pulumirpc.CreateResponse{Properties: s}, err
	}

	c := decodeCommand(inputs)
	var stdout, stderr string
	if c.create.set {
		ctx, done := p.operation(ctx)
		defer done()
		// The resource is not created when its create command fails.
		if stdout, stderr, err = c.run(ctx, c.create, p.logger(ctx, req.GetUrn())); err != nil {
			return nil, err
		}
	}
	id, err := resource.NewUniqueHex(resource.URN(req.GetUrn()).Name(), 8, 0)
	if err != nil {
		return nil, err
	}
	s, err := marshal(withOutputs(inputs, stdout, stderr, false))
	return &pulumirpc.CreateResponse{Id: id, Properties: s}, err
}

func (p *commandProvider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	olds, news, err := oldsAndNews(req.GetUrn(), req.GetOlds(), req.GetNews())
	if err != nil {
		return nil, err
	}
	stdout, stderr := getString(olds, "stdout"), getString(olds, "stderr")
	if req.GetPreview() {
		s, err := marshal(withOutputs(news, stdout, stderr, diffInputs(olds, news, nil).Changes != pulumirpc.DiffResponse_DIFF_NONE))
		return &pulumirpc.UpdateResponse{Properties: s}, err
	}

	c := decodeCommand(news)
	c.previousStdout, c.previousStderr = stdout, stderr
	script := c.update
	if !script.set {
		script = c.create
	}
	// With neither update nor create the outputs stay as they were.
	if script.set {
		ctx, done := p.operation(ctx)
		defer done()
		if stdout, stderr, err = c.run(ctx, script, p.logger(ctx, req.GetUrn())); err != nil {
			return nil, err
		}
	}
	s, err := marshal(withOutputs(news, stdout, stderr, false))
	return &pulumirpc.UpdateResponse{Properties: s}, err
}

func (p *commandProvider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	state, err := propertiesOf(req.GetUrn(), req.GetProperties())
	if err != nil {
		return nil, err
	}
	c := decodeCommand(state)
	if c.delete.set {
		ctx, done := p.operation(ctx)
		defer done()
		if _, _, err := c.run(ctx, c.delete, p.logger(ctx, req.GetUrn())); err != nil {
			return nil, err
		}
	}
	return &emptypb.Empty{}, nil
}

// Read (refresh) returns the state as it is: a command has nothing to read
// back, as in the real provider.
func (p *commandProvider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *commandProvider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	p.cancel()
	return &emptypb.Empty{}, nil
}

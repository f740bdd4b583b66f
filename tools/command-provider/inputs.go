package main

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// The input properties of command:remote:Command in @pulumi/command 1.2.1.
// Outputs are these plus stdout and stderr.
var inputKeys = []resource.PropertyKey{
	"addPreviousOutputInEnv", "connection", "create", "delete", "environment",
	"logging", "stdin", "triggers", "update",
}

// Inputs and connection fields of the real provider that this stand-in does
// not implement: Check rejects them rather than silently ignoring them.
var (
	unsupportedInputs     = []resource.PropertyKey{"environment"}
	unsupportedConnection = []resource.PropertyKey{"password", "privateKeyPassword", "agentSocketPath"}
)

var loggingValues = []string{"stdout", "stderr", "stdoutAndStderr", "none"}

// The real provider's schema defaults (also applied by the Node.js SDK).
var connectionDefaults = resource.PropertyMap{
	"port":           resource.NewNumberProperty(22),
	"user":           resource.NewStringProperty("root"),
	"dialErrorLimit": resource.NewNumberProperty(10),
	"perDialTimeout": resource.NewNumberProperty(15),
}

type checker struct{ failures []*pulumirpc.CheckFailure }

func (c *checker) fail(property, format string, args ...any) {
	c.failures = append(c.failures, &pulumirpc.CheckFailure{Property: property, Reason: fmt.Sprintf(format, args...)})
}

// checkInputs validates news and applies the real provider's defaults. Like
// the real provider it marks connection secret (its schema says so), and it
// keeps unknown values, which only occur in previews.
func checkInputs(news resource.PropertyMap) (resource.PropertyMap, []*pulumirpc.CheckFailure) {
	c := &checker{}
	out := news.Copy()
	for _, k := range news.StableKeys() {
		v := news[k]
		switch {
		case !slices.Contains(inputKeys, k):
			c.fail(string(k), "unknown property %q", k)
		case slices.Contains(unsupportedInputs, k):
			c.fail(string(k), "%q is not supported by this stand-in command provider", k)
		case k == "connection":
			out[k] = secret(c.connection(string(k), v, true))
		case k == "logging":
			if s, ok := c.str(string(k), v); ok && !slices.Contains(loggingValues, s) {
				c.fail(string(k), "logging must be one of %v, not %q", loggingValues, s)
			}
		case k == "addPreviousOutputInEnv":
			if p := plain(v); !p.IsComputed() && !p.IsBool() {
				c.fail(string(k), "expected a boolean, got %s", p.TypeString())
			}
		case k == "triggers":
			if p := plain(v); !p.IsComputed() && !p.IsArray() {
				c.fail(string(k), "expected an array, got %s", p.TypeString())
			}
		default: // create, update, delete, stdin
			c.str(string(k), v)
		}
	}
	if _, ok := news["connection"]; !ok {
		c.fail("connection", "missing required property 'connection'")
	}
	if _, ok := news["addPreviousOutputInEnv"]; !ok {
		out["addPreviousOutputInEnv"] = resource.NewBoolProperty(true)
	}
	return out, c.failures
}

// connection checks a connection (or, with allowProxy false, its proxy) and
// fills in defaults, keeping any secret or unknown wrappers.
func (c *checker) connection(path string, v resource.PropertyValue, allowProxy bool) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return resource.MakeSecret(c.connection(path, v.SecretValue().Element, allowProxy))
	case v.IsComputed():
		return v
	case !v.IsObject():
		c.fail(path, "expected an object, got %s", v.TypeString())
		return v
	}
	conn := v.ObjectValue().Copy()
	for _, k := range conn.StableKeys() {
		fv, fpath := conn[k], path+"."+string(k)
		switch k {
		case "host", "user", "privateKey", "hostKey":
			c.str(fpath, fv)
		case "port", "dialErrorLimit", "perDialTimeout":
			if p := plain(fv); !p.IsComputed() && !p.IsNumber() {
				c.fail(fpath, "expected a number, got %s", p.TypeString())
			}
		case "proxy":
			if !allowProxy {
				c.fail(fpath, "unknown property %q", k)
				break
			}
			conn[k] = c.connection(fpath, fv, false)
		default:
			if slices.Contains(unsupportedConnection, k) {
				c.fail(fpath, "%q is not supported by this stand-in command provider: authenticate with privateKey", k)
			} else {
				c.fail(fpath, "unknown property %q", k)
			}
		}
	}
	if _, ok := conn["host"]; !ok {
		c.fail(path+".host", "missing required property 'host'")
	}
	if _, ok := conn["privateKey"]; !ok {
		c.fail(path+".privateKey", "missing property 'privateKey': this stand-in authenticates only with a private key")
	}
	for k, d := range connectionDefaults {
		if _, ok := conn[k]; !ok {
			conn[k] = d
		}
	}
	return resource.NewObjectProperty(conn)
}

// str reports a failure unless v is a string or unknown; it returns the
// string when known.
func (c *checker) str(path string, v resource.PropertyValue) (string, bool) {
	p := plain(v)
	switch {
	case p.IsString():
		return p.StringValue(), true
	case !p.IsComputed():
		c.fail(path, "expected a string, got %s", p.TypeString())
	}
	return "", false
}

// plain strips secret wrappers. Values inside are used, never logged.
func plain(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

func secret(v resource.PropertyValue) resource.PropertyValue {
	if v.IsSecret() {
		return v
	}
	return resource.MakeSecret(v)
}

// endpoint is one SSH hop, decoded from checked inputs or state.
type endpoint struct {
	host, user, privateKey, hostKey string
	port, dialErrorLimit            int
	perDialTimeout                  int // seconds; 0 means no limit
}

type connection struct {
	endpoint
	proxy *endpoint
}

// command is a Command resource's inputs (and, from state, its last outputs)
// in the form the SSH code needs.
type command struct {
	conn                           connection
	create, update, delete         field
	stdin                          string
	logStdout, logStderr           bool
	addPreviousOutputInEnv         bool
	previousStdout, previousStderr string
}

// field is an optional string input; secret ones are not shown in errors.
type field struct {
	value       string
	set, secret bool
}

func getField(m resource.PropertyMap, k resource.PropertyKey) field {
	v, ok := m[k]
	if !ok || !plain(v).IsString() {
		return field{}
	}
	return field{value: plain(v).StringValue(), set: true, secret: v.ContainsSecrets()}
}

func getString(m resource.PropertyMap, k resource.PropertyKey) string {
	return getField(m, k).value
}

func getInt(m resource.PropertyMap, k resource.PropertyKey) int {
	if v := plain(m[k]); v.IsNumber() {
		return int(v.NumberValue())
	}
	return 0
}

func decodeEndpoint(m resource.PropertyMap) endpoint {
	return endpoint{
		host:           getString(m, "host"),
		user:           getString(m, "user"),
		privateKey:     getString(m, "privateKey"),
		hostKey:        getString(m, "hostKey"),
		port:           getInt(m, "port"),
		dialErrorLimit: getInt(m, "dialErrorLimit"),
		perDialTimeout: getInt(m, "perDialTimeout"),
	}
}

// decodeCommand reads checked inputs or state, neither of which holds
// unknowns outside previews (which never run commands).
func decodeCommand(m resource.PropertyMap) command {
	connMap := plain(m["connection"])
	var conn connection
	if connMap.IsObject() {
		conn.endpoint = decodeEndpoint(connMap.ObjectValue())
		if p := plain(connMap.ObjectValue()["proxy"]); p.IsObject() {
			proxy := decodeEndpoint(p.ObjectValue())
			conn.proxy = &proxy
		}
	}
	logging := getString(m, "logging")
	addPrevious := plain(m["addPreviousOutputInEnv"])
	return command{
		conn:   conn,
		create: getField(m, "create"),
		update: getField(m, "update"),
		delete: getField(m, "delete"),
		stdin:  getString(m, "stdin"),
		// Unset logging means both, as in the real provider.
		logStdout:              logging == "" || logging == "stdout" || logging == "stdoutAndStderr",
		logStderr:              logging == "" || logging == "stderr" || logging == "stdoutAndStderr",
		addPreviousOutputInEnv: !addPrevious.IsBool() || addPrevious.BoolValue(),
		previousStdout:         getString(m, "stdout"),
		previousStderr:         getString(m, "stderr"),
	}
}

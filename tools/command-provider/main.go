// Command pulumi-resource-command is a STAND-IN for the Pulumi command
// provider (github.com/pulumi/pulumi-command), written for this project's
// offline tests because the real provider cannot be built here. It implements
// only the part of command:remote:Command that the project uses; README.md
// lists that subset and where it differs from the real provider.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is what GetPluginInfo reports; the build sets it to the plugin
// version that @pulumi/command requests.
var version = "0.0.0-dev"

func main() {
	err := provider.Main("command", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		// host is nil when the engine attaches to an already running plugin.
		var log engineLog = discardLog{}
		if host != nil {
			log = host
		}
		return newProvider(log, version), nil
	})
	if err != nil {
		cmdutil.ExitError(err.Error())
	}
}

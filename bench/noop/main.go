// Command cc-noop is the benchmark floor for a chained CNI plugin: built with skel like cilium-chain, it
// parses the config and prevResult and prints prevResult back, nothing else. Its cost over "no
// chained plugin" is exec + Go runtime start + parse + print.
package main

import (
	"encoding/json"
	"fmt"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
)

func main() {
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add:   add,
		Del:   func(*skel.CmdArgs) error { return nil },
		Check: func(*skel.CmdArgs) error { return nil },
	}, version.All, "cc-noop: echoes prevResult (benchmark floor)")
}

// add parses prevResult the way every chained plugin must, then prints it at the config's version.
func add(args *skel.CmdArgs) error {
	var conf types.NetConf
	if err := json.Unmarshal(args.StdinData, &conf); err != nil {
		return fmt.Errorf("parsing config: %w", err)
	}
	if err := version.ParsePrevResult(&conf); err != nil {
		return fmt.Errorf("parsing prevResult: %w", err)
	}
	if conf.PrevResult == nil {
		return fmt.Errorf("no prevResult: cc-noop is a chained plugin")
	}
	res, err := current.NewResultFromResult(conf.PrevResult)
	if err != nil {
		return fmt.Errorf("converting prevResult: %w", err)
	}
	return types.PrintResult(res, conf.CNIVersion)
}
